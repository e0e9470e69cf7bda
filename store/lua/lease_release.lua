-- lease_release.lua: gives a named lease up if the holder holds it
-- (Redis.ReleaseLease).
--
-- KEYS[1] -> <p>:lease:<name>
--
-- ARGV[1] -> holder id
--
-- Returns 1 when released, else 0.

local lease = KEYS[1]
local holder = ARGV[1]

if redis.call('GET', lease) == holder then
  return redis.call('DEL', lease)
end
return 0
