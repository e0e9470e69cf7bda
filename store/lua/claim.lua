-- claim.lua: leases the due chat with the earliest schedule time and marks
-- its head notification SENDING (RedisQueue.Claim), after returning chats
-- whose lease expired to the schedule; reads the claimed user's link and,
-- with a limit, checks the pause and takes a slot, all in one step.
-- uses: lib/keys.lua lib/link.lua lib/gcra.lua lib/claim.lua
--
-- KEYS[1] -> <p>:sched
-- KEYS[2] -> <p>:lease
-- KEYS[3] -> <p>:leasetok
-- KEYS[4] -> <p>:pending
--
-- ARGV[1]  -> prefix <p>
-- ARGV[2]  -> now, unix ms
-- ARGV[3]  -> lease ms
-- ARGV[4]  -> fencing token of the new lease
-- ARGV[5]  -> retention ms of the claimed record
-- ARGV[6]  -> limit key <p>:rl:<name>; "" for no limit (then ARGV[7..11] are ignored)
-- ARGV[7]  -> pause key <p>:pause
-- ARGV[8]  -> emission interval µs
-- ARGV[9]  -> tolerance µs (burst-1 intervals)
-- ARGV[10] -> max age ms (0: any)
-- ARGV[11] -> max wait µs (-1: none)
--
-- Returns nil when no chat is due, {'p', pause ms} while paused, {'r', µs}
-- when throttled, or {chat, linked chat or "", reserved wait µs or "",
-- record field/value pairs...} (see lib/claim.lua).

local prefix = ARGV[1]
local now = ARGV[2]
local lease_ms = tonumber(ARGV[3])
local token = ARGV[4]
local retention_ms = ARGV[5]
local lim = claim_limit(ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]),
  tonumber(ARGV[11]))

local k = {sched = KEYS[1], lease = KEYS[2], leasetok = KEYS[3], pending = KEYS[4]}
return claim(k, prefix, tonumber(now), now, lease_ms, token, retention_ms, lim)
