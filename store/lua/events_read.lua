-- events_read.lua: reads the event log after a cursor together with what
-- tells whether the cursor is older than the oldest retained entry, in one
-- step, so that no trim falls between the two (Redis.Read).
--
-- KEYS[1] -> <p>:events, the event log
--
-- ARGV[1] -> after: an entry id, or "" for the oldest retained entry
-- ARGV[2] -> count: the most entries to return
--
-- Returns {last generated id, entries added ("-1": unknown, before Redis
-- 7), length, oldest retained id, entries}, entries as XRANGE returns
-- them; {"", "0", "0", "", {}} when the log does not exist.

local key = KEYS[1]
local after = ARGV[1]
local count = ARGV[2]

if redis.call('EXISTS', key) == 0 then return {'', '0', '0', '', {}} end
local info = redis.call('XINFO', 'STREAM', key)
local last, added, length, first = '', '-1', '0', ''
for i = 1, #info - 1, 2 do
  local f, v = info[i], info[i + 1]
  if f == 'last-generated-id' then last = v
  elseif f == 'entries-added' then added = tostring(v)
  elseif f == 'length' then length = tostring(v)
  elseif f == 'first-entry' and v then first = v[1] end
end
local start = '-'
if after ~= '' then start = '(' .. after end
return {last, added, length, first, redis.call('XRANGE', key, start, '+', 'COUNT', count)}
