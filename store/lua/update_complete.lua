-- update_complete.lua: marks a Telegram update done (Redis.CompleteUpdate).
--
-- KEYS[1] -> <p>:upd:<update id>
--
-- ARGV[1] -> keep ms: how long the update is remembered as done
--
-- Returns 1.

local update = KEYS[1]
local keep_ms = ARGV[1]

redis.call('SET', update, 'd', 'PX', keep_ms)
return 1
