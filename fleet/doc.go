// Package fleet lets the replicas of a service share what their guards
// learn, through a store they all reach (Redis, NATS JetStream KV), while
// each replica's guards still decide every call by themselves: no network
// round trip ever sits on a call's path, and losing the store changes
// nothing locally.
//
// A replica shares verdicts, not counters: when one of its guards opens on
// its own evidence, it writes an expiring vote; the others adopt the open
// state by each guard's rule (local, quorum, any). A half-open fleet sends
// one probe, under a lease. Operator actions taken for the fleet are stored
// versioned and applied by every replica, those that join later included.
// Global rate limits take tokens from the store in batches.
//
// The backends are modules of their own: fleet/redisstore (go-redis v9) and
// fleet/natsstore (nats.go jetstream). This package is the contract they
// implement (Store, RateStore) and Join, which attaches a registry through
// its public hooks and API. It imports only the standard library.
package fleet
