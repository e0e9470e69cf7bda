-- lib/claim.lua: claim, the step behind Claim (claim.lua) and the claim
-- half of SettleAndClaim (settle_claim.lua). Needs lib/keys.lua,
-- lib/link.lua and lib/gcra.lua.

-- claim_limit returns claim's lim: nil when key is empty (no limit), else
-- the GCRA limit key, the pause key, the emission interval and tolerance
-- in µs, the max age in ms (a notification older than that takes no slot;
-- <= 0: any age) and the max wait in µs (-1: none).
local function claim_limit(key, pause_key, interval_us, tolerance_us, max_age_ms, max_wait_us)
  if key == '' then return nil end
  return {key = key, pause = pause_key, interval = interval_us, tolerance = tolerance_us,
    max_age = max_age_ms, max_wait = max_wait_us}
end

-- claim first returns chats whose lease expired before now to the
-- schedule, then leases the due chat with the earliest schedule time and
-- marks its head notification SENDING. k holds the keys sched, lease,
-- leasetok and pending; p is the prefix; now (number) and nows (the same
-- as a string) unix ms; lease_ms and retention_ms in ms; token the fencing
-- token; lim nil or claim_limit's table.
--
-- It returns false when no chat is due, {'p', pause ms} while paused (lim
-- given), {'r', µs} when the limit has no slot within the max wait
-- (nothing claimed, no slot taken; one may be had after µs), or {chat,
-- linked chat or empty, reserved wait µs or empty, record field/value
-- pairs...}. A reply record reserves a slot without a link; any other
-- reserves only when its user is linked to the chat.
local function claim(k, p, now, nows, lease_ms, token, retention_ms, lim)
  if lim then
    local ps = redis.call('PTTL', lim.pause)
    if ps > 0 then return {'p', tostring(ps)} end
    if lim.max_wait >= 0 then
      local w = gcra_wait(lim.key, lim.tolerance)
      if w > lim.max_wait then return {'r', tostring(w - lim.max_wait)} end
    end
  end
  for _, chat in ipairs(redis.call('ZRANGEBYSCORE', k.lease, '-inf', now)) do
    redis.call('ZREM', k.lease, chat)
    redis.call('HDEL', k.leasetok, chat)
    redis.call('ZADD', k.sched, now, chat)
  end
  for _ = 1, 100 do
    local due = redis.call('ZRANGEBYSCORE', k.sched, '-inf', now, 'LIMIT', 0, 1)
    if #due == 0 then return false end
    local chat = due[1]
    local q = backlog_key(p, chat)
    local id = redis.call('LINDEX', q, 0)
    if not id then
      redis.call('ZREM', k.sched, chat)
    else
      local nk = record_key(p, id)
      local rec = redis.call('HGETALL', nk)
      if #rec == 0 then
        redis.call('LPOP', q)
        redis.call('ZREM', k.pending, id)
      else
        redis.call('ZREM', k.sched, chat)
        redis.call('ZADD', k.lease, now + lease_ms, chat)
        redis.call('HSET', k.leasetok, chat, token)
        local user, created, si, ui, reply, paid = '', 0, nil, nil, false, false
        for i = 1, #rec - 1, 2 do
          local f = rec[i]
          if f == 'user_id' then user = rec[i + 1]
          elseif f == 'reply' then reply = rec[i + 1] == '1'
          elseif f == 'paid' then paid = rec[i + 1] == '1' -- a paid broadcast's: the worker takes a paid slot
          elseif f == 'created_at' then created = tonumber(rec[i + 1]) or 0
          elseif f == 'state' then si = i + 1
          elseif f == 'updated_at' then ui = i + 1 end
        end
        if si and rec[si] == '1' then
          redis.call('HSET', nk, 'state', '2', 'updated_at', nows)
          rec[si] = '2'
          if ui then rec[ui] = nows else rec[#rec + 1] = 'updated_at'; rec[#rec + 1] = nows end
        end
        redis.call('PEXPIRE', nk, retention_ms)
        local linked = ''
        if not reply then linked = link_chat(p, user) or '' end
        local wait = ''
        if lim and not paid and (reply or linked == chat) and (lim.max_age <= 0 or now - created < lim.max_age) then
          wait = tostring((gcra(lim.key, lim.interval, lim.tolerance, -1)))
        end
        local out = {chat, linked, wait}
        for _, v in ipairs(rec) do out[#out + 1] = v end
        return out
      end
    end
  end
  return false
end
