// Package redisstore is the Redis backend of fleet mode: a fleet.Store and
// fleet.RateStore on github.com/redis/go-redis/v9, for standalone Redis,
// Sentinel (redis.NewFailoverClient) and Redis Cluster
// (redis.NewClusterClient).
//
//	client := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(client, redisstore.WithFleet("checkout"))
//	...
//	agent, err := fleet.Join(reg, store)
//
// # What it stores
//
// Every key carries the fleet's hash tag, "{prefix}" ("{breakerbox}" by
// default, "{breakerbox:checkout}" with WithFleet("checkout")):
//
//	{prefix}:<kind>:<key>   string "bbrev=<revision>;<value>", PX = the entry's TTL
//	{prefix}:index:<kind>   sorted set of the kind's keys, scored by expiry (ms, server clock)
//	{prefix}:rev            the revision counter (every write takes the next value)
//	{prefix}:version        NextVersion's counter (INCR)
//	{prefix}:rate:<key>     a global limit's GCRA state (µs, server clock), PX = time to full
//	{prefix}:hints          the pub/sub channel of change hints ("<kind>:<key>")
//
// Versioned keys are the truth; pub/sub is only a hint. Every write is one
// Lua script that sets the key, updates the kind's index, prunes index
// members whose expiry passed and publishes the hint, so the key, the
// index and the hint never disagree. List reads the index (ZRANGE) and the
// keys (MGET, in batches), never SCAN or KEYS, and prunes members whose
// key is gone. The Store uses no keyspace notifications: an expiry sends
// no hint, and a watcher learns of it on its next full reconcile
// (fleet.Join runs one every 10 s with jitter, and on every Resync).
//
// A value without the "bbrev=" header (written by another program, by
// hand) is returned whole with revision 0, and compare-and-swap compares
// it whole: the fleet counts what it cannot decode and never panics on it.
//
// # One slot per fleet
//
// The hash tag puts all of a fleet's keys in one Cluster slot, so the
// scripts may touch several keys (data, index, revision) and stay atomic
// on Cluster. The trade-off: one fleet's traffic (votes, heartbeats, rate
// limits) goes to one shard and its replicas; a Cluster spreads fleets
// (one per WithFleet name), not one fleet's keys. A fleet's load is small
// (a heartbeat and a vote refresh per replica every few seconds, one Take
// per batch of global-limit calls), so one shard is rarely the limit.
//
// # Deadlines
//
// Every call honours ctx: fleet.Join gives each one a short timeout
// (100 ms) and a breaker. Build the client with ContextTimeoutEnabled:
// true, so go-redis puts ctx's deadline on its sockets and ends the call
// itself. Without it go-redis waits for its own timeouts (3 s reads, 5 s
// dials); the Store then runs each call on a goroutine and returns when
// ctx ends, while the abandoned call finishes in the background and holds
// a pooled connection until then.
//
// On a Cluster, a call that fails on the network or runs out of time makes
// the Store reload go-redis's slot map in the background (at most once a
// second): go-redis reloads it on MOVED replies, which a dead master never
// sends, so without this the calls kept going to a master that had died
// after its replica took over.
//
// Watch subscribes to the hint channel on a connection of its own, sends a
// Resync when subscribed (and again if go-redis resubscribes after a
// reconnect), pings through the subscription when it is quiet
// (WithPingEvery, 1 s) and returns when two periods pass unanswered, so a
// frozen or unreachable server ends the watch; Join watches again, and the
// new Watch starts with a Resync.
//
// # Global rate limits
//
// Take runs GCRA (the generic cell rate algorithm, as go-redis/redis_rate
// does after rwz/redis-gcra) in one Lua script of our own on the server's
// clock (redis.call('TIME')), so no two hosts' clocks are ever compared;
// envoyproxy/ratelimit, by contrast, counts fixed windows (INCRBY and
// EXPIRE) keyed by the rate-limit service's own clock. It
// grants up to n calls in one round trip (partial grants near the limit)
// and returns how long until one more would be granted.
//
// # Servers
//
// The scripts read the server's clock before they write, which Redis
// allows since it replicates a script's effects (the default from 5.0,
// the only mode from 7.0); Redis 6.2 or later is the supported floor (the
// versions still maintained), and the tests run against the
// redis-server that .ci/run installs (Debian's; 7.0 at the time of
// writing). The Store uses strings, sorted sets, EVALSHA, classic
// PUBLISH/SUBSCRIBE and TIME only.
//
// "Redis-protocol compatible" servers need the same: Valkey (a fork of
// Redis 7.2) runs it unchanged; KeyDB (Redis 6 compatible) supports every
// command used. Dragonfly runs Lua scripts only on keys the script
// declares unless started with --default_lua_flags=allow-undeclared-keys;
// every script here declares all its keys in KEYS, so the default flags
// do. None of the three is tested by this module's tests.
//
// # Memory
//
// A fleet holds one member record per replica, one vote per (guard,
// replica) while that replica's guard is open, one lease per half-open
// guard, one key per operator action (released actions expire after a
// day) and one key per global-limit key while it is not full. Each key
// with its index member costs about 540 bytes on Redis 7.0 (a vote as
// Join writes it is about 170 bytes of JSON): about 4.8 KB per guard in
// the worst case of 8 replicas all voting open with a probe lease out,
// and nothing for a guard whose replicas are all closed
// (BenchmarkMemoryPerGuard).
//
// # Failover
//
// Redis replicates asynchronously: a write acknowledged by a primary just
// before a failover may be lost. Votes and member records are rewritten by
// every heartbeat, so they heal on their own; an operator action, or a
// NextVersion, taken in that window may be lost and must be taken again.
// Set min-replicas-to-write on the primary to narrow the window. The
// tests fail over a Cluster (CLUSTER FAILOVER, then the new master
// killed) and a Sentinel pair (SENTINEL FAILOVER) under a running workload
// and check that the Store goes on.
package redisstore
