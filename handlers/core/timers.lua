-- Timers of kept work (scheduled changes S…, rollouts R…), taken only by the holder of the driver lease.
-- KEYS: 1 driver lease key, 2 records hash, 3 timers sorted set
-- ARGV: 1 lease token, 2 operation, then
--   due  NOW_S RETRY_S LIMIT  -> {id, json, ...}: due records, each pushed RETRY_S later (taken again
--                                  then if its driver dies before it is done)
--   done ID                    -> 1 (a schedule is removed; a rollout only loses its timer)
--FENCED_CHECK--
local op = ARGV[2]
if op == 'due' then
  local now, retry = tonumber(ARGV[3]), tonumber(ARGV[4])
  local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
  local out = {}
  for _, id in ipairs(ids) do
    local record = redis.call('HGET', KEYS[2], id)
    if record then
      redis.call('ZADD', KEYS[3], now + retry, id)
      out[#out + 1] = id
      out[#out + 1] = record
    else
      redis.call('ZREM', KEYS[3], id)
    end
  end
  return out
elseif op == 'done' then
  if string.sub(ARGV[3], 1, 1) == 'S' then redis.call('HDEL', KEYS[2], ARGV[3]) end  -- a rollout's record stays
  redis.call('ZREM', KEYS[3], ARGV[3])
  return 1
end
return redis.error_reply('unknown timers operation ' .. tostring(op))
