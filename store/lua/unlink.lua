-- unlink.lua: removes one user's link (Redis.Unlink, Redis.UnlinkUser)
-- and appends USER_UNLINKED reason "app" in the same step; with a marker
-- TTL it also marks the user "unlinked by the application" for that long,
-- so that the settle of the user's notifications still queued fails them
-- "unlinked" (lib/settle.lua) until the user links again.
-- uses: lib/keys.lua lib/link.lua lib/events.lua
--
-- KEYS[1] -> <p>:links:<bucket of user>
-- KEYS[2] -> <p>:events, the event log
-- KEYS[3] -> <p>:ul:<user>, the user's marker
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> user id
-- ARGV[3] -> the event log's approximate max length
-- ARGV[4] -> the event log's retention ms (0: none)
-- ARGV[5] -> marker TTL ms (0: no marker)
--
-- Returns the chat the user was linked to, or nil when the user was not
-- linked (nothing changed, no event).

local links = KEYS[1]
local marker = KEYS[3]
local prefix = ARGV[1]
local user = ARGV[2]
local ev = ev_log(KEYS[2], ARGV[3], ARGV[4])
local marker_ms = tonumber(ARGV[5]) or 0

local v = redis.call('HGET', links, user)
if not v then return false end
local chat = link_chat_of(v)
index_del(index_key(prefix, chat), index_set_key(prefix, chat), chat, user)
redis.call('HDEL', links, user)
if marker_ms > 0 then redis.call('SET', marker, chat, 'PX', marker_ms) end
ev_unlinked(ev, user, chat, link_username_of(v), 'app')
return chat
