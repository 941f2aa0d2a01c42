-- The change journal: one JSON entry per change being written, in one hash.
-- Each entry carries a lease (lease_until, ms of Redis time) and a fencing token: only the
-- holder of the entry's current token may mark it, renew it or close it, and an entry whose
-- lease ran out (its writer died) may be claimed, with a new token, by whoever recovers it.
--
-- KEYS: 1 journal hash, 2 token counter
-- ARGV: 1 operation, then
--   open  ID JSON LEASE_MS               -> token
--   mark  ID TOKEN OPTION VERSION        -> 1, or 0 when the token is stale
--   renew ID TOKEN LEASE_MS              -> 1 | 0
--   close ID TOKEN                       -> 1 | 0
--   claim LEASE_MS                       -> {token, json, token, json, ...} of expired entries

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function held(id, token)
  local text = redis.call('HGET', KEYS[1], id)
  if not text then return nil end
  local entry = cjson.decode(text)
  if tostring(entry.token) ~= token then return nil end
  return entry
end

local op = ARGV[1]
if op == 'open' then
  local entry = cjson.decode(ARGV[3])
  entry.token = redis.call('INCR', KEYS[2])
  entry.lease_until = now_ms() + tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(entry))
  return entry.token
elseif op == 'mark' then
  local entry = held(ARGV[2], ARGV[3])
  if not entry then return 0 end
  for _, target in ipairs(entry.targets) do
    if target.option == ARGV[4] then target.done = tonumber(ARGV[5]) end
  end
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(entry))
  return 1
elseif op == 'renew' then
  local entry = held(ARGV[2], ARGV[3])
  if not entry then return 0 end
  entry.lease_until = now_ms() + tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(entry))
  return 1
elseif op == 'close' then
  if not held(ARGV[2], ARGV[3]) then return 0 end
  redis.call('HDEL', KEYS[1], ARGV[2])
  return 1
elseif op == 'claim' then
  local now = now_ms()
  local claimed = {}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local entry = cjson.decode(all[i + 1])
    if (tonumber(entry.lease_until) or 0) < now then
      entry.token = redis.call('INCR', KEYS[2])
      entry.lease_until = now + tonumber(ARGV[2])
      local text = cjson.encode(entry)
      redis.call('HSET', KEYS[1], all[i], text)
      claimed[#claimed + 1] = tostring(entry.token)
      claimed[#claimed + 1] = text
    end
  end
  return claimed
end
return redis.error_reply('unknown journal operation ' .. tostring(op))
