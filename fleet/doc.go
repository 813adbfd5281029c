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
//
// Join returns an Agent: Snapshot is what the replica knows of its fleet
// (members, votes, leases, overrides, the store's health), Act takes a
// fleet-wide operator action, Limiter makes a global rate limit, Close
// detaches. Each guard adopts the fleet's verdict by the rule of its policy
// (core.FleetPolicy: quorum by default, any, local; optionally a shared
// window). The agent's changes to guards carry the actor "fleet"
// (ActorFleet); operator actions applied from the store carry "fleet:"
// and the operator's actor.
//
// MemoryStore is a Store in the process's memory, for tests, examples and
// demos; package fleet/fleettest is the conformance suite every backend
// runs. docs/fleet.md describes the protocol, the failure modes and what
// the store holds.
package fleet
