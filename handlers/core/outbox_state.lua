-- One receiver's delivery state, written only by the holder of the driver lease (its token checked first).
-- KEYS: 1 driver lease, 2 cursor, 3 pending (zset: stream id -> when due), 4 events (hash: id -> JSON),
--       5 attempts (hash: id -> failures so far), 6 dead letters (list of JSON), 7 stats (hash)
-- ARGV: 1 lease token, 2 operation, then
--   fan CURSOR NOW [ID JSON]...       -> 1: events past the cursor queued, due now, and the cursor moved
--   done ID NOW                       -> 1: delivered
--   failed ID NOW ERROR DUE|dead JSON -> 1: to be tried again at DUE, or a dead letter
--FENCED_CHECK--
local op = ARGV[2]
if op == 'fan' then
  for i = 5, #ARGV, 2 do
    redis.call('ZADD', KEYS[3], 'NX', tonumber(ARGV[4]), ARGV[i])
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  end
  redis.call('SET', KEYS[2], ARGV[3])
  return 1
elseif op == 'done' then
  if redis.call('ZREM', KEYS[3], ARGV[3]) == 1 then
    redis.call('HDEL', KEYS[4], ARGV[3])
    redis.call('HDEL', KEYS[5], ARGV[3])
    redis.call('HINCRBY', KEYS[7], 'delivered', 1)
    redis.call('HSET', KEYS[7], 'last_delivered_at', ARGV[4])
  end
  return 1
elseif op == 'failed' then
  if redis.call('ZSCORE', KEYS[3], ARGV[3]) == false then return 1 end
  redis.call('HSET', KEYS[7], 'last_error', ARGV[5], 'last_error_at', ARGV[4])
  if ARGV[6] == 'dead' then
    redis.call('RPUSH', KEYS[6], ARGV[7])
    redis.call('ZREM', KEYS[3], ARGV[3])
    redis.call('HDEL', KEYS[4], ARGV[3])
    redis.call('HDEL', KEYS[5], ARGV[3])
    redis.call('HINCRBY', KEYS[7], 'dead', 1)
  else
    redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
    redis.call('ZADD', KEYS[3], tonumber(ARGV[6]), ARGV[3])
  end
  return 1
end
return redis.error_reply('unknown receivers operation ' .. tostring(op))
