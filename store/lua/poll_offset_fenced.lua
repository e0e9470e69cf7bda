-- poll_offset_fenced.lua: saves the getUpdates offset only while the holder
-- holds the poller's lease (Redis.SetPollOffsetLeased); also the event
-- webhook's cursor under its lease (Redis.SetEventWebhookCursorLeased).
--
-- KEYS[1] -> <p>:lease:<name>
-- KEYS[2] -> <p>:poll:offset (or <p>:evhook:cursor)
--
-- ARGV[1] -> holder id
-- ARGV[2] -> offset (or cursor)
--
-- Returns 1 when written, 0 when the lease is not held.

local lease, offset_key = KEYS[1], KEYS[2]
local holder = ARGV[1]
local offset = ARGV[2]

if redis.call('GET', lease) ~= holder then
  return 0
end
redis.call('SET', offset_key, offset)
return 1
