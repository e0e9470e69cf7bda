-- settle_claim.lua: settles like settle.lua, then claims like claim.lua in
-- the same step (RedisQueue.SettleAndClaim).
-- uses: lib/keys.lua lib/link.lua lib/gcra.lua lib/events.lua lib/op.lua lib/bc.lua lib/settle.lua lib/claim.lua
--
-- KEYS[1..7] -> as settle.lua: record, backlog, sched, lease, leasetok, pending,
--               events
--
-- ARGV[1..13]  -> as settle.lua: prefix, chat, token, id, now, kind, retention,
--                 next_at, message id, attempts, retries, last error, reason
-- ARGV[14]     -> lease ms of the new claim
-- ARGV[15]     -> fencing token of the new lease
-- ARGV[16]     -> retention ms of the claimed record
-- ARGV[17..22] -> the limit, as claim.lua's ARGV[6..11]: limit key ("" for
--                 none), pause key, interval µs, tolerance µs, max age ms,
--                 max wait µs (-1: none)
-- ARGV[23]     -> the event log's approximate max length (settle.lua's ARGV[14])
-- ARGV[24]     -> the event log's retention ms (settle.lua's ARGV[15])
-- ARGV[25]     -> degraded (settle.lua's ARGV[16])
-- ARGV[26]     -> media_file_id (settle.lua's ARGV[17])
-- ARGV[27..30] -> revision, op, op result, op error (settle.lua's ARGV[18..21])
--
-- Returns {'0'} when the lease was lost (nothing changed, nothing claimed),
-- {'1'} when settled with nothing due, {'1', 'p', pause ms} when settled and
-- paused, {'1', 'r', µs} when settled and throttled, or {'1', chat, linked
-- chat, wait, record pairs...} (claim.lua's reply after '1').

local prefix = ARGV[1]
local outcome = {
  chat = ARGV[2], token = ARGV[3], id = ARGV[4], now = ARGV[5], kind = ARGV[6], retention = ARGV[7],
  next_at = ARGV[8], message_id = ARGV[9], attempts = ARGV[10], retries = ARGV[11], last_error = ARGV[12],
  reason = ARGV[13], ev = ev_log(KEYS[7], ARGV[23], ARGV[24]), degraded = ARGV[25] or '',
  media_file_id = ARGV[26] or '', revision = ARGV[27] or '1', op = ARGV[28] or '', op_result = ARGV[29] or '',
  op_error = ARGV[30] or '',
}
local lease_ms = tonumber(ARGV[14])
local token = ARGV[15]
local retention_ms = ARGV[16]
local lim = claim_limit(ARGV[17], ARGV[18], tonumber(ARGV[19]), tonumber(ARGV[20]), tonumber(ARGV[21]),
  tonumber(ARGV[22]))

local k = {record = KEYS[1], backlog = KEYS[2], sched = KEYS[3], lease = KEYS[4], leasetok = KEYS[5],
  pending = KEYS[6]}
if settle(prefix, k, outcome) == 0 then return {'0'} end
local c = claim(k, prefix, tonumber(outcome.now), outcome.now, lease_ms, token, retention_ms, lim)
if not c then return {'1'} end
table.insert(c, 1, '1')
return c
