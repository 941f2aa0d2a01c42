-- One lease with a fencing token: who drives the timers. The key holds "TOKEN OWNER" and expires.
-- KEYS: 1 lease key, 2 token counter
-- ARGV: 1 operation, then
--   acquire OWNER TTL_MS   -> the token held (a new one if the lease was free), or 0 if someone else holds it
--   renew   TOKEN TTL_MS   -> 1 while TOKEN holds it, else 0
--   release TOKEN          -> 1 | 0
local current = redis.call('GET', KEYS[1])
local held_token, held_owner = nil, nil
if current then
  held_token, held_owner = string.match(current, '^(%d+) (.*)$')
end
local op = ARGV[1]
if op == 'acquire' then
  if current and held_owner ~= ARGV[2] then return 0 end
  local token = held_token
  if not current then token = tostring(redis.call('INCR', KEYS[2])) end
  redis.call('SET', KEYS[1], token .. ' ' .. ARGV[2], 'PX', tonumber(ARGV[3]))
  return tonumber(token)
elseif op == 'renew' then
  if held_token ~= ARGV[2] then return 0 end
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
elseif op == 'release' then
  if held_token ~= ARGV[2] then return 0 end
  redis.call('DEL', KEYS[1])
  return 1
end
return redis.error_reply('unknown lease operation ' .. tostring(op))
