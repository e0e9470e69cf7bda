-- bc_snapshot.lua: appends the users linked in the link buckets from..to
-- to a broadcast's staging list of recipients (RedisQueue.CreateBroadcast
-- with all_linked runs it over every bucket, a range at a time, so that no
-- run holds Redis for long).
-- uses: lib/keys.lua
--
-- KEYS[1] -> <p>:bc:<id>:r, the recipients being staged
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> first bucket
-- ARGV[3] -> last bucket
-- ARGV[4] -> staging TTL ms
--
-- Returns the number of users appended.

local prefix, staged = ARGV[1], KEYS[1]
local n = 0
for b = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local users = redis.call('HKEYS', prefix .. ':links:' .. b)
  for i = 1, #users, 1000 do
    redis.call('RPUSH', staged, unpack(users, i, math.min(i + 999, #users)))
  end
  n = n + #users
end
if n > 0 then redis.call('PEXPIRE', staged, ARGV[4]) end
return n
