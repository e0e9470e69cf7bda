-- lease_acquire.lua: takes a free named lease or renews one already held by
-- the holder (Redis.AcquireLease).
--
-- KEYS[1] -> <p>:lease:<name>
--
-- ARGV[1] -> holder id
-- ARGV[2] -> TTL ms
--
-- Returns 1 when held, 0 when another holder has it.

local lease = KEYS[1]
local holder = ARGV[1]
local ttl_ms = ARGV[2]

local cur = redis.call('GET', lease)
if cur == false or cur == holder then
  redis.call('SET', lease, holder, 'PX', ttl_ms)
  return 1
end
return 0
