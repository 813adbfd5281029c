package wire

import (
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// History is the answer to GET /v1/history: rollups of one guard's, or
// every guard's, counters, oldest first. Rollup i covers
// [Start + i*Step, Start + (i+1)*Step). A series whose rollups are all zero
// is left out.
type History struct {
	// Step is the span of one rollup: admin.ShortRollup for the last hour,
	// admin.LongRollup for the last day.
	Step core.Duration `json:"step"`
	// Start is the start of the first rollup; zero (and Count 0) before
	// the history's first observation.
	Start time.Time `json:"start"`
	// Count is the number of rollups of every series.
	Count  int            `json:"count"`
	Guards []GuardHistory `json:"guards"`
	// Stats tells the history's memory and what it dropped to stay
	// within its limit.
	Stats HistoryStats `json:"stats"`
}

// HistoryStats describe the memory of the rollup history (see
// admin.WithHistoryLimit).
type HistoryStats struct {
	// Bytes is the memory the history holds, as it counts it, and Limit
	// the most it may hold.
	Bytes int64 `json:"bytes"`
	Limit int64 `json:"limit"`
	// Guards is how many guards the history follows, dropped ones
	// included.
	Guards int `json:"guards"`
	// DroppedSeries counts the times a guard's history was dropped to stay
	// within the limit. DroppedPoints counts the rollups those held, and
	// the observations with calls or rejections a dropped history did not
	// record while it waited for room.
	DroppedSeries uint64 `json:"droppedSeries"`
	DroppedPoints uint64 `json:"droppedPoints"`
	// Store tells what the history store did, with admin.WithHistoryStore;
	// absent without one.
	Store *HistoryStoreStats `json:"store,omitempty"`
}

// HistoryStoreStats count, in rollups, what the server's history store
// (admin.WithHistoryStore) did since the server started.
type HistoryStoreStats struct {
	// Loaded counts the rollups loaded at start.
	Loaded uint64 `json:"loaded"`
	// Written counts the rollups written; Failed those whose write failed
	// (and 1 for a failed load); Dropped those not written because the
	// store fell behind or the server closed.
	Written uint64 `json:"written"`
	Failed  uint64 `json:"failed"`
	Dropped uint64 `json:"dropped"`
	// LastError is the last failure's message, if any.
	LastError string `json:"lastError,omitempty"`
}

// GuardHistory is one guard's rollups in a History. The series marked
// "detail" are given only when one guard is asked for.
type GuardHistory struct {
	Name string `json:"name"`
	// Dropped is set while the guard's history is dropped to keep the
	// history within its limit: its series are empty, or cover only the
	// time since it was taken back.
	Dropped bool `json:"dropped,omitempty"`
	// Calls counts admitted calls.
	Calls []uint32 `json:"calls,omitempty"`
	// Succeeded (detail) and Failed count admitted calls by outcome; Slow
	// counts calls at or above the slow-call duration.
	Succeeded []uint32 `json:"succeeded,omitempty"`
	Failed    []uint32 `json:"failed,omitempty"`
	Slow      []uint32 `json:"slow,omitempty"`
	// Rejected counts rejections of every reason; RejectedOpen (breaker
	// open, forced open, or half-open with its probes taken), RejectedFull
	// (bulkhead) and RejectedLimited (rate limit) split it (detail).
	Rejected        []uint32 `json:"rejected,omitempty"`
	RejectedOpen    []uint32 `json:"rejectedOpen,omitempty"`
	RejectedFull    []uint32 `json:"rejectedFull,omitempty"`
	RejectedLimited []uint32 `json:"rejectedLimited,omitempty"`
	// Severity (detail) has one digit per rollup for the most severe state
	// the breaker was seen in: 0 closed (or disabled, metrics-only), 1
	// half-open, 2 open, 3 forced open. Empty when all are 0.
	Severity string `json:"severity,omitempty"`
	// Transitions (detail) are the guard's recent state changes, newest
	// first.
	Transitions []Transition `json:"transitions,omitempty"`
	// Operations (detail) are the recent audit records that selected the
	// guard, newest first, as far as the server keeps them in memory (see
	// admin.WithRecent).
	Operations []AuditRecord `json:"operations,omitempty"`
}

// Identity is the answer to GET /v1/whoami: who the request's token is and
// what it may do, so that a client (the dashboard) shows controls only to
// those who may use them.
type Identity struct {
	// Actor is the token's name, "anonymous" without a token.
	Actor string `json:"actor"`
	// Access is "read" or "write".
	Access string `json:"access"`
	// Writable reports whether the server has any write token at all;
	// without one the API is read-only for everyone.
	Writable bool `json:"writable"`
	// Fleet reports whether the server is in a fleet (admin.WithFleet):
	// GET /v1/fleet answers only then, so that a client asks for it only
	// then (issue 20).
	Fleet bool `json:"fleet,omitempty"`
	// Regions reports whether the server serves GET /v1/regions
	// (admin.WithRegions, issue 26).
	Regions bool `json:"regions,omitempty"`
}
