// Package quota shares a global rate limit (a provider's quota: "1,000
// calls a second to the OpenAI API, whatever the region") among regions and
// their replicas by hierarchical leases, after Google's Doorman: root →
// region → replica leases that expire, max-min fair shares of reported
// demand, a safe capacity per region for when the root cannot be reached,
// and a learning mode after a coordinator fails over.
//
// Every process runs a Coordinator candidate per resource and a Limiter.
// The Limiter is the replica's side: Allow spends a local token bucket
// refilled at the replica's lease, never touching the network; in the
// background it reports its demand into its region's store and reads its
// lease. One Coordinator per region (elected by a Create lease in the
// region's store) sums its replicas' demands, asks the root for the
// region's lease and splits it among the replicas; one Coordinator of all
// (elected in the root store) splits the resource's capacity among the
// regions. The sum of unexpired leases never exceeds the capacity: a
// shrinking share frees capacity only as the larger lease expires or its
// holder acknowledges the smaller one.
//
// Stores are fleet.Store values (Redis, NATS JetStream KV, or
// fleet.MemoryStore in tests); leases are TTLs counted on each host's own
// clock from before the request they answer, never wall-clock times
// compared across hosts. FairShare is the share computation alone.
// docs/quota.md describes the model, the failure modes and how it relates
// to fleet.GlobalLimiter. The package imports only the standard library.
package quota
