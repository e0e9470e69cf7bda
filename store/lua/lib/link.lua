-- lib/link.lua: reading and writing the bucketed links and the chat index
-- (layout in store/keys.go). Needs lib/keys.lua.
--
-- A link is packed "chat|linked_at ms|username" in the user's links bucket,
-- "chat|linked_at ms:g:<title bytes>:<title>|username" for a group (the
-- username last, the title length-prefixed: either may hold "|").
-- The chat index field of a chat holds its only user, or "" when it has
-- several: then they are in the chat's set, which never has fewer than two
-- members (user ids are never empty). ck and sk are a chat's index bucket
-- and set keys (index_key, index_set_key).

-- link_chat_of returns the chat of a packed link.
local function link_chat_of(v)
  local i = string.find(v, '|', 1, true)
  if not i then return v end
  return string.sub(v, 1, i - 1)
end

-- link_username_of returns the username of a packed link ("" when none).
local function link_username_of(v)
  local i = string.find(v, '|', 1, true)
  if not i then return '' end
  local j = string.find(v, '[|:]', i + 1)
  if not j then return '' end
  if string.sub(v, j, j) == ':' then
    -- a group: ":g:<n>:<title>" comes before the username's "|"
    local n, title_at = string.match(v, '^:g:(%d+):()', j)
    if not n then return '' end
    j = title_at + tonumber(n)
  end
  return string.sub(v, j + 1)
end

-- link_chat returns the chat user is linked to (a decimal string), or false.
local function link_chat(p, user)
  local v = redis.call('HGET', link_key(p, user), user)
  if not v then return false end
  return link_chat_of(v)
end

local function index_add(ck, sk, chat, user)
  local v = redis.call('HGET', ck, chat)
  if not v then
    redis.call('HSET', ck, chat, user)
  elseif v == '' then
    redis.call('SADD', sk, user)
  elseif v ~= user then
    redis.call('SADD', sk, v, user)
    redis.call('HSET', ck, chat, '')
  end
end

local function index_del(ck, sk, chat, user)
  local v = redis.call('HGET', ck, chat)
  if v == user then
    redis.call('HDEL', ck, chat)
  elseif v == '' then
    redis.call('SREM', sk, user)
    if redis.call('SCARD', sk) < 2 then
      local rest = redis.call('SMEMBERS', sk)
      redis.call('DEL', sk)
      if rest[1] then redis.call('HSET', ck, chat, rest[1]) else redis.call('HDEL', ck, chat) end
    end
  end
end

-- index_users returns the users linked to chat.
local function index_users(ck, sk, chat)
  local v = redis.call('HGET', ck, chat)
  if not v then return {} end
  if v == '' then return redis.call('SMEMBERS', sk) end
  return {v}
end

local function index_clear(ck, sk, chat)
  redis.call('HDEL', ck, chat)
  redis.call('DEL', sk)
end
