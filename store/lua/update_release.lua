-- update_release.lua: gives up the claim of a Telegram update
-- (Redis.ReleaseUpdate): deletes its key only while it holds a claim.
--
-- KEYS[1] -> <p>:upd:<update id>
--
-- Returns 1 when released, 0 when the key held no claim.

local update = KEYS[1]

if redis.call('GET', update) == 'p' then return redis.call('DEL', update) end
return 0
