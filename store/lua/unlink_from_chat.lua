-- unlink_from_chat.lua: removes one user's link only while it points at a
-- chat (Redis.UnlinkFromChat: the chat answered 403) and appends
-- USER_UNLINKED in the same step, reason "blocked" for a private chat,
-- "removed" for a group (a negative chat id: the bot was removed).
-- uses: lib/keys.lua lib/link.lua lib/events.lua
--
-- KEYS[1] -> <p>:links:<bucket of user>
-- KEYS[2] -> <p>:events, the event log
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> user id
-- ARGV[3] -> chat id
-- ARGV[4] -> the event log's approximate max length
-- ARGV[5] -> the event log's retention ms (0: none)
--
-- Returns 1, or 0 when the user is not linked to that chat (nothing
-- changed, no event).

local links = KEYS[1]
local prefix = ARGV[1]
local user = ARGV[2]
local chat = ARGV[3]
local ev = ev_log(KEYS[2], ARGV[4], ARGV[5])

local v = redis.call('HGET', links, user)
if not v or link_chat_of(v) ~= chat then return 0 end
index_del(index_key(prefix, chat), index_set_key(prefix, chat), chat, user)
redis.call('HDEL', links, user)
local reason = 'blocked'
if string.sub(chat, 1, 1) == '-' then reason = 'removed' end
ev_unlinked(ev, user, chat, link_username_of(v), reason)
return 1
