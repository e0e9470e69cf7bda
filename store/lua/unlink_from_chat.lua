-- unlink_from_chat.lua: removes one user's link only while it points at a
-- chat (Redis.UnlinkFromChat).
-- uses: lib/keys.lua lib/link.lua
--
-- KEYS[1] -> <p>:links:<bucket of user>
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> user id
-- ARGV[3] -> chat id
--
-- Returns 1, or 0 when the user is not linked to that chat.

local links = KEYS[1]
local prefix = ARGV[1]
local user = ARGV[2]
local chat = ARGV[3]

local v = redis.call('HGET', links, user)
if not v or link_chat_of(v) ~= chat then return 0 end
index_del(index_key(prefix, chat), index_set_key(prefix, chat), chat, user)
redis.call('HDEL', links, user)
return 1
