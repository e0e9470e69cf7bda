-- unlink.lua: removes one user's link (Redis.Unlink).
-- uses: lib/keys.lua lib/link.lua
--
-- KEYS[1] -> <p>:links:<bucket of user>
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> user id
--
-- Returns 1, or 0 when the user was not linked.

local links = KEYS[1]
local prefix = ARGV[1]
local user = ARGV[2]

local v = redis.call('HGET', links, user)
if not v then return 0 end
local chat = link_chat_of(v)
index_del(index_key(prefix, chat), index_set_key(prefix, chat), chat, user)
redis.call('HDEL', links, user)
return 1
