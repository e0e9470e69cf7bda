-- link_token_consume.lua: consumes a link token and links its user to a
-- chat, replacing the user's previous link (Redis.ConsumeLinkToken), and
-- appends the events in the same step: USER_UNLINKED reason "relinked"
-- first when the user was linked to another chat, then USER_LINKED. It
-- clears the user's "unlinked by the application" marker.
-- uses: lib/keys.lua lib/link.lua lib/events.lua
--
-- KEYS[1] -> <p>:lt:<token>
-- KEYS[2] -> <p>:chats:<bucket of chat>, the new chat's index bucket
-- KEYS[3] -> <p>:chat:<chat>:many, the new chat's set of users
-- KEYS[4] -> <p>:events, the event log
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> token
-- ARGV[3] -> chat id
-- ARGV[4] -> the packed link "chat|linked_at ms[:g:<n>:title]|username"
-- ARGV[5] -> the event log's approximate max length
-- ARGV[6] -> the event log's retention ms (0: none)
-- ARGV[7] -> the kind of the chat: "g" a group, "" a private chat
--
-- Returns the user id, nil when the token is unknown, used or expired, or
-- 0 when it is for the other kind of chat (in both cases nothing changed,
-- the token stays, no event).

local token_key, index, index_set = KEYS[1], KEYS[2], KEYS[3]
local prefix = ARGV[1]
local token = ARGV[2]
local chat = ARGV[3]
local packed = ARGV[4]
local ev = ev_log(KEYS[4], ARGV[5], ARGV[6])
local chat_kind = ARGV[7] or ''

local rec = redis.call('HMGET', token_key, 'user', 'kind')
local user = rec[1]
if not user then return false end
if (rec[2] or '') ~= chat_kind then return 0 end
redis.call('DEL', token_key)
local ptr = user_token_key(prefix, user)
if redis.call('GET', ptr) == token then redis.call('DEL', ptr) end
local lk = link_key(prefix, user)
local old = redis.call('HGET', lk, user)
if old then
  local old_chat = link_chat_of(old)
  index_del(index_key(prefix, old_chat), index_set_key(prefix, old_chat), old_chat, user)
  if old_chat ~= chat then ev_unlinked(ev, user, old_chat, link_username_of(old), 'relinked') end
end
redis.call('HSET', lk, user, packed)
index_add(index, index_set, chat, user)
redis.call('DEL', unlinked_key(prefix, user))
ev_append(ev, {'t', EV_LINKED, 'u', user, 'c', chat, 'm', link_username_of(packed)})
return user
