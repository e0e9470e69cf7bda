-- pause.lua: extends the global pause to at least the given time
-- (RedisLimiter.Pause); a longer pause is kept.
--
-- KEYS[1] -> <p>:pause
--
-- ARGV[1] -> pause ms
--
-- Returns 1.

local pause_key = KEYS[1]
local ms = tonumber(ARGV[1])

if redis.call('PTTL', pause_key) < ms then redis.call('SET', pause_key, '1', 'PX', ms) end
return 1
