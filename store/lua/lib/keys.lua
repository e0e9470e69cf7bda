-- lib/keys.lua: the key names a script derives from values it reads (a
-- record id found in a backlog, the chat a user is linked to, ...). They
-- mirror the builders of store/keys.go, which documents the layout; keys
-- Go can name are passed in KEYS instead. p is the key prefix (ARGV).

-- link_bucket returns the bucket of s, a user id or a decimal chat id: the
-- first 16 bits of SHA-1(s) modulo linkBuckets (keys.go's linkBucket).
local function link_bucket(s)
  return tonumber(string.sub(redis.sha1hex(s), 1, 4), 16) % 16384
end

local function record_key(p, id) return p .. ':n:' .. id end
local function backlog_key(p, chat) return p .. ':q:' .. chat end
local function pacing_key(p, chat) return p .. ':nb:' .. chat end
local function migration_key(p, chat) return p .. ':mig:' .. chat end
local function summary_key(p, user) return p .. ':us:' .. user end
local function token_key(p, token) return p .. ':lt:' .. token end
local function user_token_key(p, user) return p .. ':user:' .. user .. ':lt' end
local function link_key(p, user) return p .. ':links:' .. link_bucket(user) end
local function index_key(p, chat) return p .. ':chats:' .. link_bucket(chat) end
local function index_set_key(p, chat) return p .. ':chat:' .. chat .. ':many' end
local function unlinked_key(p, user) return p .. ':ul:' .. user end
