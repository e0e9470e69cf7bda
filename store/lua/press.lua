-- press.lua: records a press of a callback button (RedisQueue.RecordPress)
-- once per callback query id: appends it to the notification record's
-- presses (the latest N, oldest first) and appends BUTTON_PRESSED to the
-- event log in the same step. A press of an unknown or expired record (no
-- entry given) is recorded as the event alone.
-- uses: lib/events.lua
--
-- KEYS[1] -> <p>:n:<id>, the notification record (<p>:n: with no record)
-- KEYS[2] -> <p>:cbq:<callback query id>, the press's de-duplication key
-- KEYS[3] -> <p>:events, the event log
--
-- ARGV[1]  -> the event log's approximate max length
-- ARGV[2]  -> the event log's retention ms (0: none)
-- ARGV[3]  -> de-duplication TTL ms
-- ARGV[4]  -> the press as the record keeps it (one line of JSON; '' for none)
-- ARGV[5]  -> how many presses the record keeps
-- ARGV[6…] -> the event's field/value pairs
--
-- Returns 1 (recorded) or 0 (this query id was recorded before: nothing
-- changed).

local record = KEYS[1]
local dedup = KEYS[2]
local ev = ev_log(KEYS[3], ARGV[1], ARGV[2])
local dedup_ms = ARGV[3]
local entry = ARGV[4]
local keep = tonumber(ARGV[5]) or 20

if not redis.call('SET', dedup, '1', 'NX', 'PX', dedup_ms) then return 0 end
if entry ~= '' and redis.call('EXISTS', record) == 1 then
  -- The presses field holds one JSON object per line, oldest first.
  local list = {}
  local cur = redis.call('HGET', record, 'presses')
  if cur then
    for line in string.gmatch(cur, '[^\n]+') do list[#list + 1] = line end
  end
  list[#list + 1] = entry
  local from = math.max(1, #list - keep + 1)
  local out = {}
  for i = from, #list do out[#out + 1] = list[i] end
  redis.call('HSET', record, 'presses', table.concat(out, '\n'))
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
ev_append(ev, fields)
return 1
