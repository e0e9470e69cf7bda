-- lib/op.lua: the pending operations of a notification (an edit or delete
-- of its sent messages, delivery/edit.go), shared by edit.lua, delete.lua,
-- lib/settle.lua and bc_expand.lua (queue_op). Needs lib/keys.lua.
--
-- A record with a pending operation has the field op ('edit' or 'delete')
-- and its id in its chat's backlog; for an edit op_has_text ('1' when the
-- text changes), op_text and op_mode; op_retries counts its temporary
-- failures.

-- queue_op appends record id to chat's backlog and schedules the chat,
-- unless it is scheduled or leased, not before its pacing allows (as
-- enqueue.lua does).
local function queue_op(p, sched, lease, chat, id, now)
  redis.call('RPUSH', backlog_key(p, chat), id)
  if not redis.call('ZSCORE', sched, chat) and not redis.call('ZSCORE', lease, chat) then
    local at = tonumber(now)
    local nb = tonumber(redis.call('GET', pacing_key(p, chat)) or '0')
    if nb > at then at = nb end
    redis.call('ZADD', sched, at, chat)
  end
end

-- drop_op removes the pending operation's fields from record rec.
local function drop_op(rec)
  redis.call('HDEL', rec, 'op', 'op_has_text', 'op_text', 'op_mode', 'op_retries')
end

-- settle_op settles a claim whose record rec is an operation (o.kind 'op')
-- or was cancelled (state 5) while a part of it was claimed. r holds the
-- record's user_id, next_part, nparts, message_ids, reply, state, revision
-- and op; o the outcome (settle's), with op, op_result ('done', 'fail',
-- 'retry'), op_error and revision (the claim's). It returns true when the
-- record's id stays in its chat's backlog (an operation is left to do).
local function settle_op(rec, r, o)
  local op = r[8] or ''
  redis.call('HSET', rec, 'updated_at', o.now)
  if o.kind ~= 'op' then -- a send settled on a cancelled notification: never resurrect it
    if o.kind == 'sent' then
      local ids = r[4] or ''
      if ids ~= '' then ids = ids .. ',' end
      redis.call('HSET', rec, 'message_ids', ids .. o.message_id, 'next_part', (tonumber(r[2]) or 0) + 1,
        'op', 'delete')
      return true -- the message that went out is deleted next
    end
    return op ~= ''
  end
  if o.op_result == 'retry' then
    if o.retries ~= '0' then redis.call('HINCRBY', rec, 'op_retries', o.retries) end
    return op ~= ''
  end
  if op ~= o.op or (op == 'edit' and tonumber(r[7] or '1') ~= tonumber(o.revision)) then
    return op ~= '' -- a newer edit (or a delete) came in meanwhile: it is done next
  end
  if op == 'edit' then
    if o.op_result == 'done' then
      redis.call('HSET', rec, 'edit_state', '2')
      redis.call('HDEL', rec, 'edit_error')
    else
      redis.call('HSET', rec, 'edit_state', '3', 'edit_error', o.op_error)
    end
  elseif op == 'delete' then
    if o.op_result == 'done' then
      redis.call('HSET', rec, 'deleted', '1')
      redis.call('HDEL', rec, 'delete_error')
    else
      redis.call('HSET', rec, 'delete_error', o.op_error)
    end
  end
  drop_op(rec)
  return false
end
