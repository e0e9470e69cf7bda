-- enqueue.lua: enqueues a batch of notifications, one after the other in
-- one atomic step (RedisQueue.runEnqueue; concurrent enqueues share a run).
-- uses: lib/keys.lua lib/link.lua
--
-- KEYS[1] -> <p>:sched
-- KEYS[2] -> <p>:lease
-- KEYS[3] -> <p>:pending
-- then four keys per notification, from k = 4 (the first) on:
-- KEYS[k]   -> <p>:idem:<len>:<user>:<key>, or <p>:idem: (untouched) when it has none
-- KEYS[k+1] -> <p>:n:<id>, its record (new)
-- KEYS[k+2] -> <p>:q:<chat>, its backlog; <p>:q: (untouched) when the chat is read from the link
-- KEYS[k+3] -> <p>:us:<user>, the user's summary
--
-- ARGV[1] -> prefix <p>
-- then per notification, from a = 2 (the first) on:
-- ARGV[a]     -> id
-- ARGV[a+1]   -> chat id; "" for the chat the user is linked to, read here
-- ARGV[a+2]   -> created_at, unix ms
-- ARGV[a+3]   -> idempotency TTL ms; "" when there is no idempotency key
-- ARGV[a+4]   -> retention ms
-- ARGV[a+5]   -> user id
-- ARGV[a+6]   -> kind: 'r' for a bot reply (head of the backlog, no summary), else ''
-- ARGV[a+7]   -> n, the number of record field/value arguments that follow
-- ARGV[a+8 .. a+7+n] -> the record's fields but chat_id, which the script adds
-- ARGV[a+8+n] -> the user's backlog limit (0: none)
-- ARGV[a+9+n] -> the global queued limit (0: none)
--
-- Returns one reply per notification:
--   {1, id, chat}       enqueued (chat: the chat it was queued for)
--   {0, existing id}    the idempotency key was used
--   {2}                 the user is not linked (chat "")
--   {3, message}        the user's link is corrupt
--   {4, 'user' or 'queued'} a limit is reached
-- Nothing is written for a notification that is not enqueued. The link is
-- read before the idempotency key is looked at, as a separate link read
-- would. A reply goes to the head of the backlog (behind a head whose first
-- parts were sent) and into no summary.

local sched, lease, pending = KEYS[1], KEYS[2], KEYS[3]
local prefix = ARGV[1]

local function enqueue(k, a)
  local id = ARGV[a]
  local chat = ARGV[a + 1]
  local now = ARGV[a + 2]
  local idem_ttl_ms = ARGV[a + 3]
  local retention_ms = ARGV[a + 4]
  local user = ARGV[a + 5]
  local reply = ARGV[a + 6] == 'r'
  local nfields = tonumber(ARGV[a + 7])
  local max_user = tonumber(ARGV[a + 8 + nfields])
  local max_queued = tonumber(ARGV[a + 9 + nfields])
  local idem, rec, backlog, summary = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if chat == '' then
    chat = link_chat(prefix, user)
    if not chat then return {2} end
    if not string.match(chat, '^-?%d+$') then return {3, 'corrupt link of user ' .. user} end
    backlog = backlog_key(prefix, chat)
  end
  if idem_ttl_ms ~= '' then
    local ex = redis.call('GET', idem)
    if ex then return {0, ex} end
  end
  -- Admission limits (limits.go): the user's queued count (not for a
  -- reply, which is in no summary), the global one.
  if max_user > 0 and not reply and tonumber(redis.call('HGET', summary, 'queued') or '0') >= max_user then
    return {4, 'user'}
  end
  if max_queued > 0 and redis.call('ZCARD', pending) >= max_queued then return {4, 'queued'} end
  redis.call('HSET', rec, 'chat_id', chat, unpack(ARGV, a + 8, a + 7 + nfields))
  redis.call('PEXPIRE', rec, retention_ms)
  if reply then
    local head = redis.call('LINDEX', backlog, 0)
    if head and (redis.call('HGET', record_key(prefix, head), 'next_part') or '0') ~= '0' then
      redis.call('LINSERT', backlog, 'AFTER', head, id)
    else
      redis.call('LPUSH', backlog, id)
    end
  else
    redis.call('RPUSH', backlog, id)
  end
  redis.call('ZADD', pending, now, id)
  if not redis.call('ZSCORE', sched, chat) and not redis.call('ZSCORE', lease, chat) then
    -- Not before the chat's pacing allows (set when its backlog emptied).
    local at = tonumber(now)
    local nb = tonumber(redis.call('GET', pacing_key(prefix, chat)) or '0')
    if nb > at then at = nb end
    redis.call('ZADD', sched, at, chat)
  end
  if idem_ttl_ms ~= '' then redis.call('SET', idem, id, 'PX', idem_ttl_ms) end
  if not reply then
    redis.call('HINCRBY', summary, 'queued', 1)
    redis.call('HSET', summary, 'last', id)
    redis.call('PEXPIRE', summary, retention_ms)
  end
  return {1, id, chat}
end

local out, k, a = {}, 4, 2
while a <= #ARGV do
  out[#out + 1] = enqueue(k, a)
  a = a + 10 + tonumber(ARGV[a + 7])
  k = k + 4
end
return out
