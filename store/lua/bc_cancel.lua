-- bc_cancel.lua: cancels a running broadcast (RedisQueue.CancelBroadcast):
-- the recipients not yet expanded and the expanded ones still QUEUED (not
-- claimed by a worker: taken out of their backlogs, their records deleted)
-- count as cancelled; those being sent settle as sent or failed.
-- uses: lib/keys.lua lib/events.lua lib/bc.lua
--
-- KEYS[1] -> <p>:bc:<id>
-- KEYS[2] -> <p>:bc:<id>:r
-- KEYS[3] -> <p>:bc:<id>:fl
-- KEYS[4] -> <p>:bcs
-- KEYS[5] -> <p>:pending
-- KEYS[6] -> <p>:events
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> broadcast id
-- ARGV[3] -> now, unix ms
-- ARGV[4] -> the event log's approximate max length
-- ARGV[5] -> the event log's retention ms
--
-- Returns 0 when the broadcast is unknown, else its state after the call.

local meta, list, flight, running, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, id, now = ARGV[1], ARGV[2], ARGV[3]
local st = redis.call('HGET', meta, 'st')
if not st then return 0 end
if st ~= '1' then return tonumber(st) end
local c = redis.call('LLEN', list)
redis.call('DEL', list)
for _, nid in ipairs(redis.call('ZRANGE', flight, 0, -1)) do
  local rec = record_key(prefix, nid)
  local r = redis.call('HMGET', rec, 'state', 'chat_id', 'next_part')
  if not r[1] or (r[1] == '1' and (r[3] or '0') == '0') then
    if r[2] then redis.call('LREM', backlog_key(prefix, r[2]), 1, nid) end
    redis.call('ZREM', pending, nid)
    redis.call('DEL', rec)
    redis.call('ZREM', flight, nid)
    c = c + 1
  end
end
redis.call('HINCRBY', meta, 'c', c)
redis.call('HSET', meta, 'st', '3', 'fin', now)
redis.call('SREM', running, id)
bc_check_done(prefix, id, ev_log(KEYS[6], ARGV[4], ARGV[5]), now)
return 3
