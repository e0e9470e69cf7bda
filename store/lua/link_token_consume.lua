-- link_token_consume.lua: consumes a link token and links its user to a
-- chat, replacing the user's previous link (Redis.ConsumeLinkToken).
-- uses: lib/keys.lua lib/link.lua
--
-- KEYS[1] -> <p>:lt:<token>
-- KEYS[2] -> <p>:chats:<bucket of chat>, the new chat's index bucket
-- KEYS[3] -> <p>:chat:<chat>:many, the new chat's set of users
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> token
-- ARGV[3] -> chat id
-- ARGV[4] -> the packed link "chat|linked_at ms|username"
--
-- Returns the user id, or nil when the token is unknown, used or expired.

local token_key, index, index_set = KEYS[1], KEYS[2], KEYS[3]
local prefix = ARGV[1]
local token = ARGV[2]
local chat = ARGV[3]
local packed = ARGV[4]

local user = redis.call('HGET', token_key, 'user')
if not user then return false end
redis.call('DEL', token_key)
local ptr = user_token_key(prefix, user)
if redis.call('GET', ptr) == token then redis.call('DEL', ptr) end
local lk = link_key(prefix, user)
local old = redis.call('HGET', lk, user)
if old then
  old = link_chat_of(old)
  index_del(index_key(prefix, old), index_set_key(prefix, old), old, user)
end
redis.call('HSET', lk, user, packed)
index_add(index, index_set, chat, user)
return user
