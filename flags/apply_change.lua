-- One flag change as one atomic step: the gate mutation in Flipper's layout,
-- the version bump, the audit entries and the announcement.
--
-- KEYS: 1 features set, 2 flag hash, 3 meta hash, 4 flag audit stream, 5 environment audit stream
-- ARGV: 1 name, 2 clear (0|1), 3 remove (0|1), 4 expected version or "",
--       5 announcement channel, 6 max entries per flag stream, 7 change id,
--       8 n set fields, then field/value pairs, then n deleted fields, then fields,
--       then n audit pairs, then name/value pairs.
--
-- A change id seen already returns that change's result without applying it again, so a client
-- may safely retry a change whose reply was lost with the connection.

local function expect_type(key, wanted)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= wanted then
    return redis.error_reply('WRONGTYPE ' .. key .. ' is a ' .. found .. ', expected a ' .. wanted)
  end
  return nil
end

local function as_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

for i, wanted in ipairs({'set', 'hash', 'hash', 'stream', 'stream'}) do
  local problem = expect_type(KEYS[i], wanted)
  if problem then return problem end
end

local name = ARGV[1]
if redis.call('HGET', KEYS[3], 'change_id') == ARGV[7] then
  return cjson.decode(redis.call('HGET', KEYS[3], 'result'))
end
local version = tonumber(redis.call('HGET', KEYS[3], 'version') or '0') or 0
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= version then
  return {'conflict', tostring(version)}
end

local before = redis.call('HGETALL', KEYS[2])
local existed = redis.call('SISMEMBER', KEYS[1], name)

local i = 8
local n_set = tonumber(ARGV[i]); i = i + 1
local set_fields = {}
for j = 1, n_set * 2 do set_fields[j] = ARGV[i]; i = i + 1 end
local n_del = tonumber(ARGV[i]); i = i + 1
local del_fields = {}
for j = 1, n_del do del_fields[j] = ARGV[i]; i = i + 1 end
local n_audit = tonumber(ARGV[i]); i = i + 1
local audit = {}
for j = 1, n_audit * 2 do audit[j] = ARGV[i]; i = i + 1 end

-- Calls with many arguments go in slices: Lua's unpack() stops at about 8,000 values, and an
-- error after the first write would leave a half-made change behind.
local function in_slices(command, key, values, step)
  for first = 1, #values, step do
    local slice = {}
    for j = first, math.min(first + step - 1, #values) do slice[#slice + 1] = values[j] end
    redis.call(command, key, unpack(slice))
  end
end

-- The mutation (Flipper semantics).
if ARGV[3] == '1' then
  redis.call('SREM', KEYS[1], name)
  redis.call('DEL', KEYS[2])
else
  redis.call('SADD', KEYS[1], name)
  if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
  in_slices('HSET', KEYS[2], set_fields, 1000)  -- an even step keeps field/value pairs together
  in_slices('HDEL', KEYS[2], del_fields, 1000)
end

local after = redis.call('HGETALL', KEYS[2])
local exists = redis.call('SISMEMBER', KEYS[1], name)
version = version + 1
local before_json = cjson.encode(as_table(before))
local after_json = cjson.encode(as_table(after))

local entry = {'version', tostring(version), 'before', before_json, 'after', after_json,
               'existed', tostring(existed), 'exists', tostring(exists)}
for j = 1, #audit do entry[#entry + 1] = audit[j] end

local entry_id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', unpack(entry))
entry[#entry + 1] = 'entry'
entry[#entry + 1] = entry_id
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', '*', unpack(entry))

local info = as_table(audit)
local result = {'ok', tostring(version), entry_id, before_json, after_json, tostring(existed), tostring(exists)}
redis.call('HSET', KEYS[3], 'version', tostring(version), 'entry', entry_id,
           'changed_at', info['at'] or '', 'changed_by', info['who'] or '',
           'change_id', ARGV[7], 'result', cjson.encode(result))

redis.call('PUBLISH', ARGV[5], cjson.encode({
  flag = name, version = version, entry = entry_id, after = as_table(after), exists = exists,
}))

return result
