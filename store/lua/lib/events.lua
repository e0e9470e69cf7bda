-- lib/events.lua: appending to the event log, the stream <p>:events (its
-- entries: store/keys.go and store/events_redis.go). A script that changes
-- state appends the change's events with ev_append in the same run, so no
-- change is ever without its event nor an event without its change, also
-- when the process or Redis is killed: a script runs whole or not at all.

-- Event types (events.Type).
local EV_LINKED, EV_UNLINKED, EV_SENT, EV_FAILED = '1', '2', '3', '4'

-- ev_log returns the log a script appends to: the stream key (KEYS), the
-- approximate maximum length and the retention in ms (ARGV; '0': no time
-- trimming).
local function ev_log(key, maxlen, retention_ms)
  return {key = key, maxlen = maxlen, retention = tonumber(retention_ms) or 0}
end

-- ev_append appends one entry made of the field/value pairs of fields
-- (strings; empty values are left out), trims the stream to about maxlen
-- entries and drops the entries older than the retention. Both trims are
-- approximate (whole stream nodes), so they cost little. Returns the
-- entry id (the event's cursor).
local function ev_append(ev, fields)
  local args = {'XADD', ev.key, 'MAXLEN', '~', ev.maxlen, '*'}
  for i = 1, #fields - 1, 2 do
    local v = fields[i + 1]
    if v ~= '' then
      args[#args + 1] = fields[i]
      args[#args + 1] = v
    end
  end
  local id = redis.call(unpack(args))
  if ev.retention > 0 then
    local t = redis.call('TIME')
    local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ev.retention
    if cutoff > 0 then redis.call('XTRIM', ev.key, 'MINID', '~', string.format('%d', cutoff)) end
  end
  return id
end

-- ev_unlinked appends USER_UNLINKED of user from chat (a decimal string)
-- with the username of its packed link and reason.
local function ev_unlinked(ev, user, chat, username, reason)
  return ev_append(ev, {'t', EV_UNLINKED, 'u', user, 'c', chat, 'm', username, 'r', reason})
end
