-- edit.lua: applies an accepted edit to a notification in one step
-- (RedisQueue.Edit, delivery/edit.go). Nothing of it sent and not claimed
-- (QUEUED): the new text replaces what will be sent (its new parts), the
-- edit is APPLIED. Its one message claimed or sent: the edit is PENDING,
-- recorded as the operation 'edit' (coalesced with a pending one: the last
-- wins; one that changes only the keyboard keeps a pending new text), and
-- the id goes through the chat's backlog again unless it is there already.
-- The keyboard (buttons) is replaced at once in every case.
-- uses: lib/keys.lua lib/op.lua
--
-- KEYS[1] -> <p>:n:<id>, the record
-- KEYS[2] -> <p>:sched
-- KEYS[3] -> <p>:lease
--
-- ARGV[1]  -> prefix <p>
-- ARGV[2]  -> notification id
-- ARGV[3]  -> now, unix ms
-- ARGV[4]  -> retention ms
-- ARGV[5]  -> '1' when the text changes, else ''
-- ARGV[6]  -> the new parts (JSON array), as planned for a notification nothing of which is sent
-- ARGV[7]  -> their number
-- ARGV[8]  -> their text_len
-- ARGV[9]  -> their text_sha256
-- ARGV[10] -> parse mode of the new text
-- ARGV[11] -> '1' when the new text fits one message (or caption), else ''
-- ARGV[12] -> the new text (one message)
-- ARGV[13] -> '1' when the keyboard changes, else ''
-- ARGV[14] -> the new keyboard (JSON rows of delivery.Button; '' removes it)
--
-- Returns {0} when the record is unknown or expired, {2, why} when it
-- cannot be edited (why: 'state' FAILED or CANCELLED, 'deleted', 'split'
-- sending began of several messages, 'too_long' the text does not fit its
-- one message), or {1, field, value, ...} when the edit was accepted: the
-- record after it.

local rec, sched, lease = KEYS[1], KEYS[2], KEYS[3]
local prefix, id, now, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local has_text, parts, nparts, text_len, text_sha = ARGV[5] == '1', ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local mode, fits, text = ARGV[10], ARGV[11] == '1', ARGV[12]
local set_kb, kb = ARGV[13] == '1', ARGV[14]

local r = redis.call('HMGET', rec, 'state', 'next_part', 'nparts', 'chat_id', 'revision', 'op', 'deleted', 'reply',
  'bc')
-- A bot reply and a broadcast's recipient are no notification of the caller's.
if not r[1] or r[8] == '1' or r[9] then return {0} end
local state, np, n, op = r[1], tonumber(r[2]) or 0, tonumber(r[3]) or 1, r[6] or ''
if state == '4' or state == '5' then return {2, 'state'} end
if op == 'delete' or r[7] == '1' then return {2, 'deleted'} end
local queued = state == '1'
if not queued then
  if n > 1 then return {2, 'split'} end
  if has_text and not fits then return {2, 'too_long'} end
end

redis.call('HSET', rec, 'revision', (tonumber(r[5]) or 1) + 1, 'updated_at', now)
redis.call('HDEL', rec, 'edit_error')
if set_kb then
  if kb == '' then redis.call('HDEL', rec, 'buttons') else redis.call('HSET', rec, 'buttons', kb) end
end
if has_text and (queued or np == 0) then -- nothing sent: replace what will be sent
  redis.call('HSET', rec, 'parts', parts, 'nparts', nparts, 'text_len', text_len, 'text_sha256', text_sha)
  if mode == '' then redis.call('HDEL', rec, 'parse_mode') else redis.call('HSET', rec, 'parse_mode', mode) end
end
if queued then
  redis.call('HSET', rec, 'edit_state', '2')
else
  -- Claimed (its claim settles with the older revision and keeps the id
  -- in the backlog) or sent (queued again here): the message is edited.
  if has_text then
    redis.call('HSET', rec, 'op_has_text', '1', 'op_text', text, 'op_mode', mode)
  elseif op ~= 'edit' then
    redis.call('HDEL', rec, 'op_has_text', 'op_text', 'op_mode')
  end
  if op ~= 'edit' and state == '3' then queue_op(prefix, sched, lease, r[4], id, now) end
  redis.call('HSET', rec, 'op', 'edit', 'edit_state', '1')
end
redis.call('PEXPIRE', rec, retention)
local out = {1}
for _, v in ipairs(redis.call('HGETALL', rec)) do out[#out + 1] = v end
return out
