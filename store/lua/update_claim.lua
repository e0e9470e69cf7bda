-- update_claim.lua: claims a Telegram update for processing
-- (Redis.ClaimUpdate).
--
-- KEYS[1] -> <p>:upd:<update id>
--
-- ARGV[1] -> claim TTL ms
--
-- Returns 1 (claimed: the key now holds 'p'), 2 (in progress elsewhere) or
-- 3 (done: the key holds 'd').

local update = KEYS[1]
local ttl_ms = ARGV[1]

if redis.call('SET', update, 'p', 'NX', 'PX', ttl_ms) then return 1 end
if redis.call('GET', update) == 'd' then return 3 end
return 2
