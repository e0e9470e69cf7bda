-- unlink_chat.lua: removes every link to a chat (Redis.UnlinkChat).
-- uses: lib/keys.lua lib/link.lua
--
-- KEYS[1] -> <p>:chats:<bucket of chat>, the chat's index bucket
-- KEYS[2] -> <p>:chat:<chat>:many, the chat's set of users
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> chat id
--
-- Returns the unlinked user ids.

local index, index_set = KEYS[1], KEYS[2]
local prefix = ARGV[1]
local chat = ARGV[2]

local out = {}
for _, user in ipairs(index_users(index, index_set, chat)) do
  local lk = link_key(prefix, user)
  local v = redis.call('HGET', lk, user)
  if v and link_chat_of(v) == chat then
    redis.call('HDEL', lk, user)
    out[#out + 1] = user
  end
end
index_clear(index, index_set, chat)
return out
