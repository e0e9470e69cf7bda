-- unlink_chat.lua: removes every link to a chat (Redis.UnlinkChat) and
-- appends one USER_UNLINKED per user unlinked, with the reason given, in
-- the same step.
-- uses: lib/keys.lua lib/link.lua lib/events.lua
--
-- KEYS[1] -> <p>:chats:<bucket of chat>, the chat's index bucket
-- KEYS[2] -> <p>:chat:<chat>:many, the chat's set of users
-- KEYS[3] -> <p>:events, the event log
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> chat id
-- ARGV[3] -> reason of the events ("stop", "blocked" or "removed")
-- ARGV[4] -> the event log's approximate max length
-- ARGV[5] -> the event log's retention ms (0: none)
--
-- Returns the unlinked user ids.

local index, index_set = KEYS[1], KEYS[2]
local prefix = ARGV[1]
local chat = ARGV[2]
local reason = ARGV[3]
local ev = ev_log(KEYS[3], ARGV[4], ARGV[5])

local out = {}
for _, user in ipairs(index_users(index, index_set, chat)) do
  local lk = link_key(prefix, user)
  local v = redis.call('HGET', lk, user)
  if v and link_chat_of(v) == chat then
    redis.call('HDEL', lk, user)
    out[#out + 1] = user
    ev_unlinked(ev, user, chat, link_username_of(v), reason)
  end
end
index_clear(index, index_set, chat)
return out
