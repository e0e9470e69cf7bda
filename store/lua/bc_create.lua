-- bc_create.lua: creates a broadcast from its staged recipients
-- (RedisQueue.CreateBroadcast), or returns the one its idempotency key
-- names (the staged list is then deleted).
-- uses: lib/keys.lua lib/events.lua lib/bc.lua
--
-- KEYS[1] -> <p>:bc:<id>
-- KEYS[2] -> <p>:bc:<id>:m, the record template
-- KEYS[3] -> <p>:bc:<id>:r, the staged recipients
-- KEYS[4] -> <p>:bcs
-- KEYS[5] -> <p>:bc:idem:<key>, or <p>:bc:idem: (untouched) when there is none
-- KEYS[6] -> <p>:events
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> broadcast id
-- ARGV[3] -> created_at, unix ms
-- ARGV[4] -> rate per second
-- ARGV[5] -> paid: "1" or "0"
-- ARGV[6] -> idempotency TTL ms ("" without a key)
-- ARGV[7] -> retention ms after it finishes
-- ARGV[8] -> the event log's approximate max length
-- ARGV[9] -> the event log's retention ms
-- ARGV[10..] -> the record template's field/value pairs
--
-- Returns {1, id, recipients} when created, {0, existing id, recipients}
-- when the idempotency key names an earlier broadcast.

local meta, tmpl, staged, running, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, id, now = ARGV[1], ARGV[2], ARGV[3]
if ARGV[6] ~= '' then
  local ex = redis.call('GET', idem)
  if ex then
    redis.call('DEL', staged)
    return {0, ex, tonumber(redis.call('HGET', bc_key(prefix, ex), 'n') or '0')}
  end
end
local n = redis.call('LLEN', staged)
redis.call('HSET', meta, 'st', '1', 'n', n, 'created', now, 'rate', ARGV[4], 'paid', ARGV[5], 'ret', ARGV[7])
redis.call('HSET', tmpl, unpack(ARGV, 10))
if n > 0 then
  redis.call('PERSIST', staged)
  redis.call('SADD', running, id)
end
if ARGV[6] ~= '' then redis.call('SET', idem, id, 'PX', ARGV[6]) end
bc_check_done(prefix, id, ev_log(KEYS[6], ARGV[8], ARGV[9]), now)
return {1, id, n}
