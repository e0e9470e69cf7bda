-- delete.lua: retracts a notification in one step (RedisQueue.Delete,
-- delivery/edit.go). Not fully sent (QUEUED or SENDING): CANCELLED at once,
-- out of the pending set and counted out of the user's queued (into
-- cancelled), its text dropped; unclaimed and nothing sent, it leaves the
-- backlog; with parts sent it becomes the operation 'delete' (its messages
-- are deleted); claimed, the claim's settle keeps it from being sent again
-- (lib/op.lua's settle_op). SENT (or FAILED with messages): the operation
-- 'delete' through the chat's backlog. A pending edit is dropped (FAILED).
-- Deleting twice changes nothing. A CANCELLED notification emits no event.
-- uses: lib/keys.lua lib/op.lua
--
-- KEYS[1] -> <p>:n:<id>, the record
-- KEYS[2] -> <p>:sched
-- KEYS[3] -> <p>:lease
-- KEYS[4] -> <p>:pending
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> notification id
-- ARGV[3] -> now, unix ms
-- ARGV[4] -> retention ms
--
-- Returns {0} when the record is unknown or expired (or a bot reply, or a
-- broadcast recipient), else
-- {1, field, value, ...}: the record after it.

local rec, sched, lease, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, id, now, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local r = redis.call('HMGET', rec, 'state', 'next_part', 'chat_id', 'user_id', 'op', 'message_ids', 'deleted',
  'reply', 'bc')
-- A bot reply and a broadcast's recipient are no notification of the
-- caller's (a recipient is cancelled with its broadcast: bc_cancel.lua).
if not r[1] or r[8] == '1' or r[9] then return {0} end
local state, np, chat, op = r[1], tonumber(r[2]) or 0, r[3], r[5] or ''
if state == '5' or r[7] == '1' or op == 'delete' then
  local out = {1}
  for _, v in ipairs(redis.call('HGETALL', rec)) do out[#out + 1] = v end
  return out
end
if op == 'edit' then
  redis.call('HSET', rec, 'edit_state', '3', 'edit_error', 'deleted before the edit was applied')
  drop_op(rec)
end
if state == '1' or state == '2' then
  redis.call('HSET', rec, 'state', '5', 'updated_at', now)
  redis.call('HDEL', rec, 'parts')
  redis.call('ZREM', pending, id)
  local us = summary_key(prefix, r[4])
  redis.call('HINCRBY', us, 'queued', -1)
  redis.call('HINCRBY', us, 'cancelled', 1)
  redis.call('PEXPIRE', us, retention)
  if np > 0 then
    redis.call('HSET', rec, 'op', 'delete') -- its id is in the backlog: the head
  elseif state == '1' then
    redis.call('LREM', backlog_key(prefix, chat), 1, id)
  end -- else claimed: its settle drops it, or queues the delete of what went out
elseif (r[6] or '') ~= '' then
  redis.call('HSET', rec, 'op', 'delete', 'updated_at', now)
  redis.call('HDEL', rec, 'delete_error')
  if op == '' then queue_op(prefix, sched, lease, chat, id, now) end
end
redis.call('PEXPIRE', rec, retention)
local out = {1}
for _, v in ipairs(redis.call('HGETALL', rec)) do out[#out + 1] = v end
return out
