package region

import (
	"github.com/breakerbox/breakerbox/fleet"
)

// The kinds this package adds to a region's store.
const (
	// KindSummary holds one entry per region, keyed by the region's name:
	// its latest Summary. A region's own summary is written by its elected
	// replica; the others' are copies written by a Relay. Every entry has
	// a TTL.
	KindSummary fleet.Kind = "summary"
	// KindSummaryLease holds the lease that elects the replica publishing
	// the region's summary (one key, LeaseKey).
	KindSummaryLease fleet.Kind = "summary-lease"
)

// LeaseKey is the key of the summary lease under KindSummaryLease.
const LeaseKey = "region-summary"

// ActorGlobal is the actor of the opens a global guard takes because
// enough regions report it open, and of their release.
const ActorGlobal = "fleet:global"

// MaxGuards bounds the guards one summary carries (open guards first);
// Summary.Truncated counts the others.
const MaxGuards = 1000

// Summary is one region's compact report, as stored under KindSummary.
type Summary struct {
	// Region is the region's name; it is also the entry's key.
	Region string `json:"region"`
	// Seq orders the region's summaries: the region store's NextVersion
	// when the summary was made. It grows with every summary, whichever
	// replica makes it; it is never compared with another region's.
	Seq uint64 `json:"seq"`
	// By is the replica that made it.
	By string `json:"by"`
	// TTLMS is how long the summary lives in every store without a newer
	// one, in milliseconds (a duration handed to the servers, never a
	// wall-clock time). Relays copy it with this TTL.
	TTLMS int64 `json:"ttlMs"`
	// PeriodMS is the producer's publication period, in milliseconds.
	PeriodMS int64 `json:"periodMs"`
	// Members is the number of live replicas of the region.
	Members int `json:"members"`
	// Guards are the region's guards, by name (open guards first when the
	// list was truncated).
	Guards []GuardSummary `json:"guards"`
	// Truncated counts the guards left out beyond MaxGuards.
	Truncated int `json:"truncated,omitempty"`
}

// GuardSummary is one guard in a region's summary.
type GuardSummary struct {
	Guard string `json:"guard"`
	// Global is true when the guard is scoped global in the producer's
	// policy.
	Global bool `json:"global,omitempty"`
	// Open is true when the region reports the guard open: the open votes
	// of its replicas meet the guard's adoption rule.
	Open bool `json:"open,omitempty"`
	// OpenReplicas counts the replicas voting open (open on their own
	// evidence; adopted opens never vote).
	OpenReplicas int `json:"openReplicas,omitempty"`
	// Share is OpenReplicas over the region's live replicas (0..1).
	Share float64 `json:"share,omitempty"`
	// State is the guard's state on the producing replica.
	State string `json:"state,omitempty"`
	// Calls and FailureRate (percent) are the producer's window, plus the
	// window counts the region's replicas publish in shared-window mode.
	Calls       int     `json:"calls,omitempty"`
	FailureRate float64 `json:"failureRate,omitempty"`
	// LimiterUse is the share of the producer's rate-limit burst in use
	// (0..1), and BulkheadUse of its bulkhead's slots; 0 without one.
	LimiterUse  float64 `json:"limiterUse,omitempty"`
	BulkheadUse float64 `json:"bulkheadUse,omitempty"`
}

// RegionGuardState answers "is guard X open in region R?" for traffic
// steering, from the summaries this replica last read.
type RegionGuardState struct {
	Region string `json:"region"`
	Guard  string `json:"guard"`
	// Open is true when region R reports the guard open.
	Open         bool    `json:"open"`
	OpenReplicas int     `json:"openReplicas"`
	Members      int     `json:"members"`
	Share        float64 `json:"share"`
	State        string  `json:"state,omitempty"`
	FailureRate  float64 `json:"failureRate"`
	LimiterUse   float64 `json:"limiterUse"`
	BulkheadUse  float64 `json:"bulkheadUse"`
	// Seq is the summary's sequence number in region R.
	Seq uint64 `json:"seq"`
	// Age is the summary's age in sequence terms: how many of this
	// replica's read periods passed since region R's Seq last advanced (0:
	// a new summary arrived in the current period). As both periods are
	// jittered, a live region's summary reads 0 to 2; a summary that stops
	// advancing grows older, then expires after its TTL and the region
	// disappears.
	Age int `json:"age"`
}

// RegionView is one region as this replica sees it.
type RegionView struct {
	Region string `json:"region"`
	// Self is true for this replica's own region.
	Self    bool   `json:"self"`
	Seq     uint64 `json:"seq"`
	Age     int    `json:"age"`
	By      string `json:"by"`
	Members int    `json:"members"`
	// Guards are the region's guards, by name.
	Guards    []GuardSummary `json:"guards"`
	Truncated int            `json:"truncated,omitempty"`
}

// GlobalView is a guard scoped global as this replica evaluates it.
type GlobalView struct {
	Guard string `json:"guard"`
	// Regions is k, the number of regions that must report it open.
	Regions int `json:"regions"`
	// OpenIn are the regions that report it open, by name.
	OpenIn []string `json:"openIn"`
	// Adopted is true while this replica holds the guard open because of
	// them.
	Adopted bool `json:"adopted"`
}

// Report is what a replica knows of every region, for the admin API,
// breakerctl and the dashboard.
type Report struct {
	// Region is this replica's region, Replica its ID.
	Region  string `json:"region"`
	Replica string `json:"replica"`
	// Leader is true while this replica publishes its region's summary.
	Leader bool `json:"leader"`
	// Regions are the regions with an unexpired summary, by name.
	Regions []RegionView `json:"regions"`
	// Global are the guards scoped global, by name.
	Global []GlobalView `json:"global"`
	// Errors counts failed store calls; Malformed the summaries that could
	// not be read.
	Errors    uint64 `json:"errors"`
	Malformed uint64 `json:"malformed"`
}
