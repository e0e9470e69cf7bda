-- lib/gcra.lua: the GCRA limit whose theoretical arrival time (unix µs) is
-- stored at key, with emission interval T µs and tolerance tau µs (burst-1
-- intervals), on the Redis server's clock (TIME), so replicas with skewed
-- clocks share one budget.

local function gcra_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- gcra_wait returns how long, in µs, the next slot is away (0: now)
-- without taking it, and the TAT and now it computed that from.
local function gcra_wait(key, tau)
  local now = gcra_now()
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local at = tat - tau
  if at < now then at = now end
  return at - now, tat, now
end

-- gcra takes the next slot and returns its wait, true; when maxw >= 0 and
-- the wait is longer than maxw µs it takes nothing and returns the wait,
-- false (a slot its caller could not use in time would only push every
-- later caller back).
local function gcra(key, T, tau, maxw)
  local wait, tat, now = gcra_wait(key, tau)
  if maxw >= 0 and wait > maxw then return wait, false end
  local ntat = tat + T
  redis.call('SET', key, string.format('%d', ntat), 'PX', math.ceil((ntat - now) / 1000) + 1000)
  return wait, true
end
