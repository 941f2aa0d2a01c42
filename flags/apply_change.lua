-- One or more flag changes as one atomic step: for each, the gate mutation in Flipper's layout,
-- the version bump, the audit entries and the announcement. Several changes are several
-- environments sharing one Redis server: all of them are written, or none.
--
-- KEYS: five per change: 1 features set, 2 flag hash, 3 meta hash, 4 flag audit stream,
--       5 environment audit stream
-- ARGV: 1 number of changes, then per change: the number of its arguments, then
--       1 name, 2 clear (0|1), 3 remove (0|1), 4 expected version or "",
--       5 announcement channel, 6 max entries per flag stream, 7 change id,
--       8 n set fields, then field/value pairs, then n deleted fields, then fields,
--       then n audit pairs, then name/value pairs.
--
-- Returns a list with one result per change, or {'conflict', index, version} when a change's
-- flag is not at its expected version (then nothing at all is written).
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

-- Calls with many arguments go in slices: Lua's unpack() stops at about 8,000 values, and an
-- error after the first write would leave a half-made change behind.
local function in_slices(command, key, values, step)
  for first = 1, #values, step do
    local slice = {}
    for j = first, math.min(first + step - 1, #values) do slice[#slice + 1] = values[j] end
    redis.call(command, key, unpack(slice))
  end
end

-- Split ARGV into each change's keys and arguments.
local changes = {}
local at = 2
for c = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[at]); at = at + 1
  local args = {}
  for j = 1, n do args[j] = ARGV[at]; at = at + 1 end
  local keys = {}
  for j = 1, 5 do keys[j] = KEYS[(c - 1) * 5 + j] end
  changes[c] = {keys = keys, args = args}
end

-- Check everything before writing anything.
for c, change in ipairs(changes) do
  for i, wanted in ipairs({'set', 'hash', 'hash', 'stream', 'stream'}) do
    local problem = expect_type(change.keys[i], wanted)
    if problem then return problem end
  end
  local K, A = change.keys, change.args
  if redis.call('HGET', K[3], 'change_id') == A[7] then
    change.replayed = cjson.decode(redis.call('HGET', K[3], 'result'))
  else
    local version = tonumber(redis.call('HGET', K[3], 'version') or '0') or 0
    if A[4] ~= '' and tonumber(A[4]) ~= version then
      return {'conflict', tostring(c), tostring(version)}
    end
    change.version = version
  end
end

local function apply(K, A, version)
  local name = A[1]
  local before = redis.call('HGETALL', K[2])
  local existed = redis.call('SISMEMBER', K[1], name)

  local i = 8
  local n_set = tonumber(A[i]); i = i + 1
  local set_fields = {}
  for j = 1, n_set * 2 do set_fields[j] = A[i]; i = i + 1 end
  local n_del = tonumber(A[i]); i = i + 1
  local del_fields = {}
  for j = 1, n_del do del_fields[j] = A[i]; i = i + 1 end
  local n_audit = tonumber(A[i]); i = i + 1
  local audit = {}
  for j = 1, n_audit * 2 do audit[j] = A[i]; i = i + 1 end

  -- The mutation (Flipper semantics).
  if A[3] == '1' then
    redis.call('SREM', K[1], name)
    redis.call('DEL', K[2])
  else
    redis.call('SADD', K[1], name)
    if A[2] == '1' then redis.call('DEL', K[2]) end
    in_slices('HSET', K[2], set_fields, 1000)  -- an even step keeps field/value pairs together
    in_slices('HDEL', K[2], del_fields, 1000)
  end

  local after = redis.call('HGETALL', K[2])
  local exists = redis.call('SISMEMBER', K[1], name)
  version = version + 1
  local before_json = cjson.encode(as_table(before))
  local after_json = cjson.encode(as_table(after))

  local entry = {'version', tostring(version), 'before', before_json, 'after', after_json,
                 'existed', tostring(existed), 'exists', tostring(exists)}
  for j = 1, #audit do entry[#entry + 1] = audit[j] end

  local entry_id = redis.call('XADD', K[4], 'MAXLEN', '~', A[6], '*', unpack(entry))
  entry[#entry + 1] = 'entry'
  entry[#entry + 1] = entry_id
  redis.call('XADD', K[5], 'MAXLEN', '~', '100000', '*', unpack(entry))

  local info = as_table(audit)
  local result = {'ok', tostring(version), entry_id, before_json, after_json, tostring(existed), tostring(exists)}
  redis.call('HSET', K[3], 'version', tostring(version), 'entry', entry_id,
             'changed_at', info['at'] or '', 'changed_by', info['who'] or '',
             'change_id', A[7], 'result', cjson.encode(result))

  redis.call('PUBLISH', A[5], cjson.encode({
    flag = name, version = version, entry = entry_id, after = as_table(after), exists = exists,
  }))
  return result
end

local results = {}
for c, change in ipairs(changes) do
  results[c] = change.replayed or apply(change.keys, change.args, change.version)
end
return results
