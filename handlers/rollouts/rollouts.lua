-- Staged rollouts, kept beside schedules (ids R1, R2, ...) and driven by the same timers.
-- KEYS: 1 driver lease key, 2 records hash, 3 timers sorted set
-- ARGV: put ID JSON REV DUE TOKEN
--   Saves the record if it is still at revision REV (0: a new one), and sets its timer (DUE, or
--   none when ''). With a TOKEN (the driver's), only while that token holds the lease.
--   -> 'ok', 'stale' (someone changed it meanwhile: read it again) or 'fenced'
local id, json, rev, due, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if token ~= '' then
  local lease = redis.call('GET', KEYS[1])
  if not lease or string.match(lease, '^(%d+) ') ~= token then return 'fenced' end
end
local current = redis.call('HGET', KEYS[2], id)
local current_rev = '0'
if current then current_rev = tostring(cjson.decode(current).rev) end
if current_rev ~= rev then return 'stale' end
redis.call('HSET', KEYS[2], id, json)
if due == '' then
  redis.call('ZREM', KEYS[3], id)
else
  redis.call('ZADD', KEYS[3], tonumber(due), id)
end
return 'ok'
