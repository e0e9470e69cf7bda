-- backlog.lua: the number of notifications QUEUED or SENDING and the
-- creation time of the oldest (RedisQueue.Backlog). Drops pending ids whose
-- record expired from the head first (at most 100 per call).
-- uses: lib/keys.lua
--
-- KEYS[1] -> <p>:pending
--
-- ARGV[1] -> prefix <p>
--
-- Returns {count, oldest created_at ms or ""}.

local pending = KEYS[1]
local prefix = ARGV[1]

for _ = 1, 100 do
  local h = redis.call('ZRANGE', pending, 0, 0, 'WITHSCORES')
  if #h == 0 then return {'0', ''} end
  if redis.call('EXISTS', record_key(prefix, h[1])) == 1 then
    return {tostring(redis.call('ZCARD', pending)), h[2]}
  end
  redis.call('ZREM', pending, h[1])
end
local h = redis.call('ZRANGE', pending, 0, 0, 'WITHSCORES')
return {tostring(redis.call('ZCARD', pending)), h[2] or ''}
