-- settle.lua: applies an outcome to the claimed notification, releases the
-- lease and reschedules the chat at next_at if its backlog is not empty
-- (RedisQueue.Settle). Follows the lease to the chat it migrated to. A
-- notification (not a reply) that becomes SENT or FAILED appends
-- NOTIFICATION_SENT or NOTIFICATION_FAILED in the same step.
-- uses: lib/keys.lua lib/events.lua lib/op.lua lib/bc.lua lib/settle.lua
--
-- KEYS[1] -> <p>:n:<id>, the record
-- KEYS[2] -> <p>:q:<chat>, the backlog of the claimed chat
-- KEYS[3] -> <p>:sched
-- KEYS[4] -> <p>:lease
-- KEYS[5] -> <p>:leasetok
-- KEYS[6] -> <p>:pending
-- KEYS[7] -> <p>:events, the event log (NOTIFICATION_SENT / _FAILED)
--
-- ARGV[1]  -> prefix <p>
-- ARGV[2]  -> chat id
-- ARGV[3]  -> fencing token of the lease
-- ARGV[4]  -> notification id
-- ARGV[5]  -> now, unix ms
-- ARGV[6]  -> kind: 'sent' (a part), 'retry', 'fail' or 'release'
-- ARGV[7]  -> retention ms
-- ARGV[8]  -> next_at, unix ms: when the chat may send next
-- ARGV[9]  -> message id of the sent part
-- ARGV[10] -> attempts to add
-- ARGV[11] -> retries to add
-- ARGV[12] -> last error ("" keeps it)
-- ARGV[13] -> failure reason (kind 'fail')
-- ARGV[14] -> the event log's approximate max length
-- ARGV[15] -> the event log's retention ms (0: none)
-- ARGV[16] -> degraded: recorded with a sent part when not "" ("parse_entities")
-- ARGV[17] -> media_file_id: recorded with a sent part when not "" (the media's file_id)
-- ARGV[18] -> revision of the claimed record (lib/settle.lua)
-- ARGV[19] -> op: the operation settled (kind 'op'): 'edit', 'delete' or ''
-- ARGV[20] -> op result (kind 'op'): 'done', 'fail' or 'retry'
-- ARGV[21] -> op error: recorded as edit_error / delete_error (result 'fail')
--
-- Returns 1, or 0 when the lease was lost (nothing changed).

local prefix = ARGV[1]
local outcome = {
  chat = ARGV[2], token = ARGV[3], id = ARGV[4], now = ARGV[5], kind = ARGV[6], retention = ARGV[7],
  next_at = ARGV[8], message_id = ARGV[9], attempts = ARGV[10], retries = ARGV[11], last_error = ARGV[12],
  reason = ARGV[13], ev = ev_log(KEYS[7], ARGV[14], ARGV[15]), degraded = ARGV[16] or '',
  media_file_id = ARGV[17] or '', revision = ARGV[18] or '1', op = ARGV[19] or '', op_result = ARGV[20] or '',
  op_error = ARGV[21] or '',
}

local k = {record = KEYS[1], backlog = KEYS[2], sched = KEYS[3], lease = KEYS[4], leasetok = KEYS[5],
  pending = KEYS[6]}
return settle(prefix, k, outcome)
