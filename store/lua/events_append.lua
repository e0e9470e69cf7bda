-- events_append.lua: appends an event that is no state change's (a
-- forwarded message) to the event log, with the log's trimming
-- (Redis.Append).
-- uses: lib/events.lua
--
-- KEYS[1] -> <p>:events, the event log
--
-- ARGV[1]  -> the event log's approximate max length
-- ARGV[2]  -> the event log's retention ms (0: none)
-- ARGV[3…] -> the entry's field/value pairs
--
-- Returns the entry id.

local ev = ev_log(KEYS[1], ARGV[1], ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
return ev_append(ev, fields)
