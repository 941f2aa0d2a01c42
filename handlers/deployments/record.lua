-- Record one deployment event, ordered by its own timestamp, not by arrival.
-- KEYS: 1 current (last successful) hash, 2 running hash, 3 history sorted set (score = time)
-- ARGV: 1 event JSON, 2 time, 3 status, 4 sha, 5 history size
local at = tonumber(ARGV[2])
local status = ARGV[3]
local sha = ARGV[4]

redis.call('ZADD', KEYS[3], at, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[5]) + 1))

local current_at = tonumber(redis.call('HGET', KEYS[1], 'at') or '-1')
local running_at = tonumber(redis.call('HGET', KEYS[2], 'at') or '-1')
local running_sha = redis.call('HGET', KEYS[2], 'sha')
local event = cjson.decode(ARGV[1])
local became = ''

local function started_at()
  -- the earliest `running` event for this sha in the history, if any
  local earliest = nil
  for _, raw in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', at)) do
    local seen = cjson.decode(raw)
    if seen['sha'] == sha and seen['status'] == 'running' then
      earliest = seen['at']
      break
    end
  end
  return earliest
end

local function store(key, fields)
  redis.call('DEL', key)
  local flat = {}
  for k, v in pairs(fields) do
    if v ~= nil and v ~= cjson.null then
      flat[#flat + 1] = k
      flat[#flat + 1] = tostring(v)
    end
  end
  redis.call('HSET', key, unpack(flat))
end

if status == 'running' then
  if at > current_at and at >= running_at then
    event['started_at'] = at
    store(KEYS[2], event)
    became = 'running'
  end
else
  if status == 'success' and at >= current_at then
    event['finished_at'] = at
    event['started_at'] = started_at()
    store(KEYS[1], event)
    became = 'current'
  end
  if running_sha and ((running_sha == sha and at >= running_at) or (status == 'success' and at >= running_at)) then
    redis.call('DEL', KEYS[2])
  end
end
return became
