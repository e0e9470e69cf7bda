-- lib/bc.lua: broadcasts (store/broadcast_redis.go; keys in store/keys.go).
-- A broadcast is a hash <p>:bc:<id> (st state 1 running, 2 done, 3
-- cancelled; n recipients; s sent; f failed; c cancelled; x expanded so
-- far; fr:<reason> failures by reason; created, started, fin unix ms;
-- rate; paid; tat the next expansion slot, unix ms; ret retention ms; fe
-- "1" once BROADCAST_FINISHED was appended), its record template
-- <p>:bc:<id>:m, the recipients not yet expanded <p>:bc:<id>:r (list), the
-- expanded recipients not yet settled <p>:bc:<id>:fl (zset id -> expanded
-- at, ms) and the failures <p>:bc:<id>:f (list of "reason|user"); the
-- running broadcasts with recipients left are the set <p>:bcs. Needs
-- lib/keys.lua and lib/events.lua.

local EV_BC_FINISHED = '7'

local function bc_key(p, id) return p .. ':bc:' .. id end
local function bc_flight_key(p, id) return p .. ':bc:' .. id .. ':fl' end
local function bc_failures_key(p, id) return p .. ':bc:' .. id .. ':f' end
local function bc_recipients_key(p, id) return p .. ':bc:' .. id .. ':r' end
local function bc_template_key(p, id) return p .. ':bc:' .. id .. ':m' end
local function bc_running_key(p) return p .. ':bcs' end

-- bc_fail counts user of broadcast id as failed for reason.
local function bc_fail(p, id, user, reason)
  local b = bc_key(p, id)
  redis.call('HINCRBY', b, 'f', 1)
  redis.call('HINCRBY', b, 'fr:' .. reason, 1)
  redis.call('RPUSH', bc_failures_key(p, id), reason .. '|' .. user)
end

-- bc_check_done ends broadcast id once no recipient is pending: a running
-- one becomes DONE at now (ms string); either way BROADCAST_FINISHED is
-- appended once (reason "done" or "cancelled") and the broadcast's keys
-- expire after its retention.
local function bc_check_done(p, id, ev, now)
  local b = bc_key(p, id)
  local v = redis.call('HMGET', b, 'st', 'n', 's', 'f', 'c', 'fe', 'ret')
  if not v[1] or v[6] == '1' then return end
  local pending = (tonumber(v[2]) or 0) - (tonumber(v[3]) or 0) - (tonumber(v[4]) or 0) - (tonumber(v[5]) or 0)
  if pending > 0 then return end
  local reason = 'cancelled'
  if v[1] == '1' then
    redis.call('HSET', b, 'st', '2', 'fin', now)
    reason = 'done'
  end
  redis.call('HSET', b, 'fe', '1')
  redis.call('SREM', bc_running_key(p), id)
  ev_append(ev, {'t', EV_BC_FINISHED, 'b', id, 'r', reason})
  local ret = v[7] or '0'
  if tonumber(ret) > 0 then
    for _, k in ipairs({b, bc_flight_key(p, id), bc_failures_key(p, id), bc_recipients_key(p, id),
      bc_template_key(p, id)}) do
      redis.call('PEXPIRE', k, ret)
    end
  end
end

-- bc_cancel_unsent cancels the record nid of broadcast id, given back
-- unsent (a retry or a release, next_part the record's) after the
-- broadcast was cancelled while it was being sent: it counts as cancelled
-- and is deleted; the caller takes it out of its backlog. It returns
-- whether it did.
local function bc_cancel_unsent(p, id, nid, next_part, ev, now)
  if (next_part or '0') ~= '0' or redis.call('HGET', bc_key(p, id), 'st') ~= '3' then return false end
  redis.call('ZREM', bc_flight_key(p, id), nid)
  redis.call('HINCRBY', bc_key(p, id), 'c', 1)
  redis.call('DEL', record_key(p, nid))
  bc_check_done(p, id, ev, now)
  return true
end

-- bc_settled counts the end of the expanded recipient record rec (id
-- nid, user) of broadcast id: final 'sent' or 'failed' with reason. The
-- record is dropped: what a broadcast keeps of a recipient is its count
-- and, when it failed, its failure.
local function bc_settled(p, id, nid, user, final, reason, ev, now)
  redis.call('ZREM', bc_flight_key(p, id), nid)
  if final == 'sent' then
    redis.call('HINCRBY', bc_key(p, id), 's', 1)
  else
    bc_fail(p, id, user, reason)
  end
  redis.call('DEL', record_key(p, nid))
  bc_check_done(p, id, ev, now)
end
