-- link_token_put.lua: stores a link token and makes it the user's current
-- one, both with the same TTL (Redis.PutLinkToken).
--
-- KEYS[1] -> <p>:lt:<token>, the token hash {user, exp, kind}
-- KEYS[2] -> <p>:user:<user>:lt, the user's current token
--
-- ARGV[1] -> user id
-- ARGV[2] -> token
-- ARGV[3] -> expiry, unix ms
-- ARGV[4] -> TTL ms; <= 0: the token is already expired, both keys are deleted
-- ARGV[5] -> the kind of chat the token links: "g" a group, "" a private chat
--
-- Returns 1 when stored, 0 when deleted.

local token_key, pointer_key = KEYS[1], KEYS[2]
local user = ARGV[1]
local token = ARGV[2]
local exp_ms = ARGV[3]
local ttl_ms = tonumber(ARGV[4])
local kind = ARGV[5] or ''

if ttl_ms <= 0 then
  redis.call('DEL', token_key, pointer_key)
  return 0
end
redis.call('DEL', token_key)
redis.call('HSET', token_key, 'user', user, 'exp', exp_ms)
if kind ~= '' then redis.call('HSET', token_key, 'kind', kind) end
redis.call('PEXPIRE', token_key, ttl_ms)
redis.call('SET', pointer_key, token, 'PX', ttl_ms)
return 1
