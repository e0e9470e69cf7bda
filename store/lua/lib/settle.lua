-- lib/settle.lua: settle, the step behind Settle (settle.lua) and the
-- settle half of SettleAndClaim (settle_claim.lua). Needs lib/keys.lua,
-- lib/events.lua, lib/op.lua and lib/bc.lua.

-- lease_chat returns the chat and backlog key where the lease with token
-- taken on chat is now: chat itself, or the chat it migrated to while the
-- lease was held (the migration marker, see migrate_chat.lua); false when
-- the lease was lost.
local function lease_chat(p, leasetok, chat, token, backlog)
  if redis.call('HGET', leasetok, chat) == token then return chat, backlog end
  local to = redis.call('GET', migration_key(p, chat))
  if to and redis.call('HGET', leasetok, to) == token then return to, backlog_key(p, to) end
  return false
end

-- settle applies an outcome to the claimed notification, releases the
-- lease and reschedules the chat if its backlog is not empty. p is the
-- prefix; k holds the keys record, backlog, sched, lease, leasetok and
-- pending; o the outcome, all strings as passed in ARGV: chat, token, id,
-- now (ms), kind ('sent', 'retry', 'fail' or 'release'), retention (ms),
-- next_at (ms), message_id, attempts, retries (to add), last_error,
-- reason, ev, the event log (ev_log), degraded and media_file_id (recorded with a sent
-- part when not ''), revision (the claimed record's), op, op_result and
-- op_error (kind 'op': lib/op.lua's settle_op). It returns 1, or 0 when the
-- lease was lost.
--
-- An edit accepted while the part was claimed (op 'edit' at a revision
-- above the claim's) keeps the record's id in the backlog when it becomes
-- SENT: the sent message is edited next. A claim of a notification that
-- was cancelled meanwhile never makes it SENT or FAILED again (settle_op).
--
-- A notification (not a reply) that becomes SENT or FAILED appends
-- NOTIFICATION_SENT or NOTIFICATION_FAILED in the same step. A failure
-- "not_linked" of a user the application unlinked (the marker of
-- unlink.lua) is recorded as "unlinked".
local function settle(p, k, o)
  local id = o.id
  local chat, backlog = lease_chat(p, k.leasetok, o.chat, o.token, k.backlog) -- follows a migration
  if not chat then return 0 end
  redis.call('ZREM', k.lease, chat)
  redis.call('HDEL', k.leasetok, chat)
  local function unqueue()
    if redis.call('LINDEX', backlog, 0) == id then redis.call('LPOP', backlog)
    else redis.call('LREM', backlog, 1, id) end
    redis.call('ZREM', k.pending, id)
  end
  local rec = k.record
  local r = redis.call('HMGET', rec, 'user_id', 'next_part', 'nparts', 'message_ids', 'reply', 'state', 'revision',
    'op', 'bc')
  if r[1] and (o.kind == 'op' or r[6] == '5') then
    local keep = settle_op(rec, r, o)
    redis.call('PEXPIRE', rec, o.retention)
    if not keep then unqueue() end
  elseif r[1] then
    local kind, final, reason = o.kind, nil, o.reason
    if o.attempts ~= '0' then redis.call('HINCRBY', rec, 'attempts', o.attempts) end
    if o.retries ~= '0' then redis.call('HINCRBY', rec, 'retries', o.retries) end
    local set = {'updated_at', o.now}
    if o.last_error ~= '' then set[#set + 1] = 'last_error'; set[#set + 1] = o.last_error end
    if kind == 'sent' then
      local ids = r[4] or ''
      if ids ~= '' then ids = ids .. ',' end
      local np = (tonumber(r[2]) or 0) + 1
      set[#set + 1] = 'message_ids'; set[#set + 1] = ids .. o.message_id
      set[#set + 1] = 'next_part'; set[#set + 1] = tostring(np)
      if o.degraded ~= '' then set[#set + 1] = 'degraded'; set[#set + 1] = o.degraded end
      if o.media_file_id ~= '' then set[#set + 1] = 'media_file_id'; set[#set + 1] = o.media_file_id end
      set[#set + 1] = 'state'
      if np >= (tonumber(r[3]) or 1) then
        set[#set + 1] = '3'
        final = 'sent'
      else
        set[#set + 1] = '2'
      end
    elseif kind == 'fail' then
      if reason == 'not_linked' and r[5] ~= '1' and redis.call('EXISTS', unlinked_key(p, r[1])) == 1 then
        reason = 'unlinked'
      end
      set[#set + 1] = 'state'; set[#set + 1] = '4'
      set[#set + 1] = 'failure_reason'; set[#set + 1] = reason
      final = 'failed'
    elseif (r[2] or '0') == '0' then
      set[#set + 1] = 'state'; set[#set + 1] = '1'
    end
    redis.call('HSET', rec, unpack(set))
    if final == 'sent' then
      -- Drop the text once sent; text_len and text_sha256 stay (textdrop.go).
      redis.call('HDEL', rec, 'parts')
    end
    redis.call('PEXPIRE', rec, o.retention)
    local keep = false
    if final and r[8] == 'edit' then
      if final == 'sent' and tonumber(r[7] or '1') > tonumber(o.revision) then
        keep = true -- edited while it was sent: the sent message is edited next
      elseif final == 'sent' then
        redis.call('HSET', rec, 'edit_state', '2')
        drop_op(rec)
      else
        redis.call('HSET', rec, 'edit_state', '3', 'edit_error', 'the notification failed')
        drop_op(rec)
      end
    end
    if keep then redis.call('ZREM', k.pending, id)
    elseif final then unqueue() end
    if r[9] then -- a broadcast's recipient: its counts, no event, no summary (lib/bc.lua)
      if final then bc_settled(p, r[9], id, r[1], final, reason, o.ev, o.now)
      elseif bc_cancel_unsent(p, r[9], id, r[2], o.ev, o.now) then unqueue() end
    elseif r[5] ~= '1' then -- a reply is in no summary
      local us = summary_key(p, r[1])
      if final then
        redis.call('HINCRBY', us, 'queued', -1)
        redis.call('HINCRBY', us, final, 1)
        if final == 'sent' then
          ev_append(o.ev, {'t', EV_SENT, 'n', id, 'u', r[1], 'c', chat, 's', '3'})
        else
          ev_append(o.ev, {'t', EV_FAILED, 'n', id, 'u', r[1], 'c', chat, 's', '4', 'r', reason})
        end
      end
      redis.call('PEXPIRE', us, o.retention)
    end
  else
    unqueue()
  end
  if redis.call('LLEN', backlog) > 0 then
    redis.call('ZADD', k.sched, o.next_at, chat)
  elseif tonumber(o.next_at) > tonumber(o.now) then
    -- The backlog is empty: remember when the chat may send again, so a
    -- notification enqueued before then waits for its pacing too.
    redis.call('SET', pacing_key(p, chat), o.next_at, 'PXAT', o.next_at)
  end
  return 1
end
