package redisstore

import "github.com/redis/go-redis/v9"

// The scripts declare every key they touch in KEYS (all of them in the
// fleet's hash tag, so in one Cluster slot), which is what Redis Cluster,
// Valkey, KeyDB and Dragonfly's default script mode require. The ones that
// write read the server's clock (TIME) to keep the kind's index in step
// with the keys' expiry; Redis replicates a script's effects, not the
// script, so that is safe on replicas (Redis ≥ 5).
//
// A stored value is "bbrev=<revision>;" followed by the caller's bytes.
// A value without that header (written by hand, by another program) is
// read whole, with revision 0, and compared whole.

// luaPrelude holds the helpers every writing script shares. It is pasted
// at the top of each script (Redis scripts cannot share functions before
// Redis 7's FUNCTION, which we do not require).
const luaPrelude = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function payload(cur)
  local s, e = string.find(cur, '^bbrev=%d+;')
  if s then return string.sub(cur, e + 1) end
  return cur
end
-- write sets the data key (KEYS[1]) to value with ttl (ms, 0 = none),
-- bumps the revision (KEYS[3]), indexes the key in KEYS[2] by expiry,
-- prunes expired index members and publishes the hint.
local function write(value, ttl, member, channel, hint)
  local now = nowms()
  local rev = redis.call('INCR', KEYS[3])
  local v = 'bbrev=' .. rev .. ';' .. value
  if ttl > 0 then
    redis.call('SET', KEYS[1], v, 'PX', ttl)
    redis.call('ZADD', KEYS[2], string.format('%.0f', now + ttl), member)
  else
    redis.call('SET', KEYS[1], v)
    redis.call('ZADD', KEYS[2], '+inf', member)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now))
  redis.call('PUBLISH', channel, hint)
  return rev
end
local function remove(member, channel, hint)
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], member)
  redis.call('PUBLISH', channel, hint)
end
`

// putScript: KEYS data, index, revision; ARGV value, ttl ms, member,
// channel, hint. Returns the new revision.
var putScript = redis.NewScript(luaPrelude + `
return write(ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
`)

// createScript: as putScript, only when the key is absent. Returns
// {1, revision} or {0, current value}.
var createScript = redis.NewScript(luaPrelude + `
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
return {1, write(ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])}
`)

// compareAndPutScript: KEYS data, index, revision; ARGV old, value, ttl
// ms, member, channel, hint. Returns the new revision, or 0 when the key
// does not hold old.
var compareAndPutScript = redis.NewScript(luaPrelude + `
local cur = redis.call('GET', KEYS[1])
if not cur or payload(cur) ~= ARGV[1] then return 0 end
return write(ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6])
`)

// compareAndDeleteScript: KEYS data, index; ARGV old, member, channel,
// hint. Returns 1 when it deleted.
var compareAndDeleteScript = redis.NewScript(luaPrelude + `
local cur = redis.call('GET', KEYS[1])
if not cur or payload(cur) ~= ARGV[1] then return 0 end
remove(ARGV[2], ARGV[3], ARGV[4])
return 1
`)

// deleteScript: KEYS data, index; ARGV member, channel, hint. Publishes
// only when there was something to delete.
var deleteScript = redis.NewScript(luaPrelude + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
remove(ARGV[1], ARGV[2], ARGV[3])
return 1
`)

// pruneScript: KEYS index, then candidate data keys; ARGV their index
// members, in the same order. Drops members whose expiry passed and
// candidates whose key is gone. Returns how many it dropped.
var pruneScript = redis.NewScript(luaPrelude + `
local n = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', nowms()))
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i - 1])
  end
end
return n
`)

// takeScript is GCRA (the generic cell rate algorithm) on the server's
// clock, granting up to n cells at once. KEYS[1] holds the theoretical
// arrival time (TAT) in microseconds of the server's clock; ARGV are the
// emission interval T (µs, may be fractional), the burst (cells) and n.
//
// A cell may be granted at now when TAT - now <= (burst - 1) * T, i.e.
// when at least one of the burst's cells is free; k cells fit while
// TAT + k*T - now <= burst * T. Granting k moves TAT by k*T; the key lives
// until TAT (when the bucket is full again, nothing is worth keeping).
// When fewer than n are granted, retry-after is how long until the next
// cell fits: TAT + T - burst*T - now.
//
// Returns {granted, retry-after µs}.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tau = T * burst
local tat = now
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(cur)
  if v and v > now then tat = v end
end
local k = math.floor((now + tau - tat) / T + 1e-9)
if k > n then k = n end
if k < 0 then k = 0 end
if k > 0 then
  tat = tat + k * T
  local ttl = math.ceil((tat - now) / 1000)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', ttl)
end
local retry = 0
if k < n then
  retry = math.ceil(tat + T - tau - now)
  if retry < 1 then retry = 1 end
end
return {k, retry}
`)
