-- The outbox: an event is added once per idempotency key (a change told again after a crash adds nothing).
-- KEYS: 1 the outbox stream, 2 the key marking this idempotency key as added
-- ARGV: 1 the event (JSON), 2 seconds to remember the key, 3 the stream's approximate maximum length
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[3]), '*', 'event', ARGV[1])
end
return false
