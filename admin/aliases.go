package admin

import "github.com/breakerbox/breakerbox/admin/wire"

// The API's JSON types, constants and path helper live in package wire, so
// that clients import them without the server. The names below are aliases
// (identical types, the same constants), kept so that code written against
// package admin keeps compiling; see package wire for each one's doc.

// APIVersion is wire.APIVersion, the path prefix of the JSON API.
const APIVersion = wire.APIVersion

// GuardPath returns the path of one guard in the API, /v1/guards/{name},
// with the name escaped as one path segment; it is wire.GuardPath.
func GuardPath(name string) string { return wire.GuardPath(name) }

// Op is wire.Op, a manual operation on guards.
type Op = wire.Op

// The operations, as in package wire.
const (
	OpOpen        = wire.OpOpen        // wire.OpOpen
	OpClose       = wire.OpClose       // wire.OpClose
	OpDisable     = wire.OpDisable     // wire.OpDisable
	OpMetricsOnly = wire.OpMetricsOnly // wire.OpMetricsOnly
	OpReset       = wire.OpReset       // wire.OpReset
	OpRelease     = wire.OpRelease     // wire.OpRelease
	OpPrune       = wire.OpPrune       // wire.OpPrune
	OpRestore     = wire.OpRestore     // wire.OpRestore
)

// GuardOps lists the operations accepted by POST /v1/operations/{op}; it
// holds the operations of wire.GuardOps.
var GuardOps = wire.GuardOps

// SnapshotVersion is wire.SnapshotVersion, the version of the Snapshot
// document this package writes and reads.
const SnapshotVersion = wire.SnapshotVersion

// ProblemTypePrefix is wire.ProblemTypePrefix, the start of every
// Problem's Type.
const ProblemTypePrefix = wire.ProblemTypePrefix

// Paging limits of GET /v1/audit: wire.DefaultAuditLimit and
// wire.MaxAuditLimit.
const (
	DefaultAuditLimit = wire.DefaultAuditLimit
	MaxAuditLimit     = wire.MaxAuditLimit
)

// Health statuses of application/health+json: wire.StatusPass,
// wire.StatusWarn and wire.StatusFail.
const (
	StatusPass = wire.StatusPass
	StatusWarn = wire.StatusWarn
	StatusFail = wire.StatusFail
)

// Aliases of the documents of the guards, operations, prune, snapshot and
// restore endpoints.
type (
	// GuardList is wire.GuardList, the answer to GET /v1/guards.
	GuardList = wire.GuardList
	// GuardStatus is wire.GuardStatus, one guard as the API shows it.
	GuardStatus = wire.GuardStatus
	// RateLimitStatus is wire.RateLimitStatus, a guard's rate limit.
	RateLimitStatus = wire.RateLimitStatus
	// Counters is wire.Counters, a guard's cumulative counters.
	Counters = wire.Counters
	// Window is wire.Window, a breaker's current statistics window.
	Window = wire.Window
	// BulkheadStatus is wire.BulkheadStatus, a guard's bulkhead.
	BulkheadStatus = wire.BulkheadStatus
	// HedgeStatus is wire.HedgeStatus, a guard's hedging.
	HedgeStatus = wire.HedgeStatus
	// CacheStatus is wire.CacheStatus, a guard's cached fallback.
	CacheStatus = wire.CacheStatus
	// AdaptiveStatus is wire.AdaptiveStatus, an adaptive bulkhead limit.
	AdaptiveStatus = wire.AdaptiveStatus
	// ThrottleStatus is wire.ThrottleStatus, a client-side throttle.
	ThrottleStatus = wire.ThrottleStatus
	// Transition is wire.Transition, a breaker state change.
	Transition = wire.Transition
	// Override is wire.Override, a manual state.
	Override = wire.Override
	// OperationRequest is wire.OperationRequest, the body of
	// POST /v1/operations/{op}.
	OperationRequest = wire.OperationRequest
	// Target is wire.Target, a selection of guards.
	Target = wire.Target
	// OperationResult is wire.OperationResult, the answer to a guard
	// operation.
	OperationResult = wire.OperationResult
	// Change is wire.Change, the effect of an operation on one guard.
	Change = wire.Change
	// PruneRequest is wire.PruneRequest, the body of POST /v1/prune.
	PruneRequest = wire.PruneRequest
	// PruneResult is wire.PruneResult, the answer to POST /v1/prune.
	PruneResult = wire.PruneResult
	// Snapshot is wire.Snapshot, the document of GET /v1/snapshot.
	Snapshot = wire.Snapshot
	// SnapshotGuard is wire.SnapshotGuard, one guard in a Snapshot.
	SnapshotGuard = wire.SnapshotGuard
	// RestoreRequest is wire.RestoreRequest, the body of
	// POST /v1/snapshot/restore.
	RestoreRequest = wire.RestoreRequest
	// RestoreResult is wire.RestoreResult, the answer to
	// POST /v1/snapshot/restore.
	RestoreResult = wire.RestoreResult
)

// Aliases of the audit log's documents.
type (
	// AuditRecord is wire.AuditRecord, one write operation in the audit
	// log.
	AuditRecord = wire.AuditRecord
	// CreatedGuard is wire.CreatedGuard, a guard a restore created.
	CreatedGuard = wire.CreatedGuard
	// GuardState is wire.GuardState, a guard's state in an audit record.
	GuardState = wire.GuardState
	// AuditQuery is wire.AuditQuery, a selection of audit records.
	AuditQuery = wire.AuditQuery
	// AuditPage is wire.AuditPage, the answer to GET /v1/audit.
	AuditPage = wire.AuditPage
)

// Aliases of the problem, health, identity and history documents.
type (
	// Problem is wire.Problem, the RFC 9457 body of every error.
	Problem = wire.Problem
	// Health is wire.Health, an application/health+json document.
	Health = wire.Health
	// Check is wire.Check, one guard's entry in a Health document.
	Check = wire.Check
	// Identity is wire.Identity, the answer to GET /v1/whoami.
	Identity = wire.Identity
	// History is wire.History, the answer to GET /v1/history.
	History = wire.History
	// HistoryStats is wire.HistoryStats, the memory of the rollup
	// history.
	HistoryStats = wire.HistoryStats
	// HistoryStoreStats is wire.HistoryStoreStats, what the history store
	// did (see WithHistoryStore).
	HistoryStoreStats = wire.HistoryStoreStats
	// GuardHistory is wire.GuardHistory, one guard's rollups in a
	// History.
	GuardHistory = wire.GuardHistory
)

// Aliases of the event stream's documents (GET /v1/events).
type (
	// GuardInfo is wire.GuardInfo, what does not change during a guard's
	// life.
	GuardInfo = wire.GuardInfo
	// Thresholds is wire.Thresholds, the trip rules of a guard's breaker.
	Thresholds = wire.Thresholds
	// BulkheadLimits is wire.BulkheadLimits, a bulkhead's configured
	// limits.
	BulkheadLimits = wire.BulkheadLimits
	// RateLimitInfo is wire.RateLimitInfo, a rate limit's configuration.
	RateLimitInfo = wire.RateLimitInfo
	// GuardLive is wire.GuardLive, a guard's live figures.
	GuardLive = wire.GuardLive
	// HelloEvent is wire.HelloEvent, the event that opens the stream.
	HelloEvent = wire.HelloEvent
	// RatesEvent is wire.RatesEvent, every guard's live figures.
	RatesEvent = wire.RatesEvent
	// StateEvent is wire.StateEvent, a breaker's state change.
	StateEvent = wire.StateEvent
	// GuardsEvent is wire.GuardsEvent, guards that appeared or were
	// pruned.
	GuardsEvent = wire.GuardsEvent
	// RollupEvent is wire.RollupEvent, a completed rollup.
	RollupEvent = wire.RollupEvent
	// RollupPoint is wire.RollupPoint, one guard's counts in one rollup.
	RollupPoint = wire.RollupPoint
)

// canonicalOp returns the operation op stands for (close is disable), and
// whether op is a guard operation.
func canonicalOp(op Op) (Op, bool) {
	switch op {
	case OpClose:
		return OpDisable, true
	case OpOpen, OpDisable, OpMetricsOnly, OpReset, OpRelease:
		return op, true
	}
	return op, false
}
