-- limit_reserve.lua: takes the next slot of a GCRA limit
-- (RedisLimiter.Reserve).
-- uses: lib/gcra.lua
--
-- KEYS[1] -> <p>:rl:<name>, the theoretical arrival time
--
-- ARGV[1] -> emission interval µs
-- ARGV[2] -> tolerance µs (burst-1 intervals)
--
-- Returns the wait in µs before the slot may be used (0: now).

local tat_key = KEYS[1]
local interval_us = tonumber(ARGV[1])
local tolerance_us = tonumber(ARGV[2])

local w = gcra(tat_key, interval_us, tolerance_us, -1)
return w
