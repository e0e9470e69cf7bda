-- link_token_get.lua: reads the user's current link token
-- (Redis.UserLinkToken).
-- uses: lib/keys.lua
--
-- KEYS[1] -> <p>:user:<user>:lt, the user's current token
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> user id
--
-- Returns {token, expiry ms, kind ("g" a group token, "" private)}, or nil when there is none or the token is
-- gone or another user's.

local pointer_key = KEYS[1]
local prefix = ARGV[1]
local user = ARGV[2]

local tok = redis.call('GET', pointer_key)
if not tok then return false end
local rec = redis.call('HMGET', token_key(prefix, tok), 'user', 'exp', 'kind')
if not rec[1] or rec[1] ~= user then return false end
return {tok, rec[2], rec[3] or ''}
