-- limit_acquire.lua: the pause check and a bounded slot of a GCRA limit in
-- one step (RedisLimiter.Acquire).
-- uses: lib/gcra.lua
--
-- KEYS[1] -> <p>:rl:<name>, the theoretical arrival time
-- KEYS[2] -> <p>:pause
--
-- ARGV[1] -> emission interval µs
-- ARGV[2] -> tolerance µs (burst-1 intervals)
-- ARGV[3] -> max wait µs
--
-- Returns {1, pause ms} while the pause is in force (no slot taken), {0,
-- wait µs} when it took a slot, {2, wait µs} when the next slot is more
-- than the max wait away (none taken).

local tat_key, pause_key = KEYS[1], KEYS[2]
local interval_us = tonumber(ARGV[1])
local tolerance_us = tonumber(ARGV[2])
local max_wait_us = tonumber(ARGV[3])

local p = redis.call('PTTL', pause_key)
if p > 0 then return {1, p} end
local w, ok = gcra(tat_key, interval_us, tolerance_us, max_wait_us)
if ok then return {0, w} end
return {2, w}
