// Package region runs fleet mode across regions (issue 26). Each region is
// the authority for itself: its replicas share one store (their own Redis or
// NATS), their verdicts, leases and overrides stay in it, and nothing
// crosses regions on a call's path. What crosses regions is a compact
// Summary per region:
//
//   - One replica per region, elected by a lease in the region's store
//     (KindSummaryLease), publishes the region's Summary every period
//     (DefaultPeriod, jittered, and early when a guard's verdicts change)
//     under KindSummary, keyed by the region's name, with a TTL of four
//     periods. Its Seq is the region store's NextVersion: summaries are
//     ordered by sequence, never by a wall clock compared across hosts.
//   - A Relay copies each region's own summary from its store into every
//     other region's store, with the summary's TTL, so that a dead or
//     partitioned region's summary expires everywhere else.
//   - Every replica reads the summaries of its own store (every region's,
//     its own included) and answers failover questions from memory
//     (Agent.RegionState, Agent.Regions), and opens its guards scoped
//     "global" (core.FleetPolicy.Scope) while at least k regions
//     (core.FleetPolicy.Regions, default 2) report them open, never
//     because one region alone did. Those opens carry the actor
//     ActorGlobal and a reason naming the regions, are held while the
//     quorum holds (once the open lapses, the agent's probe veto,
//     fleet.Agent.AddProbeVeto, refuses the half-open guard's probes), and
//     are released when fewer than k regions report the guard open. An
//     operator's manual state is never overridden.
//
// Every store call of an Agent and a Relay runs behind a breaker per
// store; Agent.Health and Relay.Health report the stores' health (admin
// shows it in /health), and metrics.Regions describes the region metrics.
//
// A region "reports a guard open" when the open votes of its replicas meet
// the guard's own adoption rule (quorum: at least Min votes and Fraction of
// the live replicas, Min capped at the number of live replicas; any: one
// vote; local: a quorum with the same numbers). Adopted opens never vote,
// global ones included, so a region that opened because of the others does
// not count itself as a reporting region.
//
// See docs/regions.md for the topology (one relay per region or one for
// all) and the NATS alternative (KV mirrors and sources across JetStream
// domains).
package region
