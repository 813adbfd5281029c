package wire

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// APIVersion is the path prefix of the JSON API served by admin.Handler.
const APIVersion = "v1"

// guardsPrefix starts the path of one guard, GET /v1/guards/{name}.
const guardsPrefix = "/" + APIVersion + "/guards/"

// GuardPath returns the path of one guard in the API, /v1/guards/{name},
// with the name escaped as one path segment: every "/" as %2F, a "%" as
// %25, and a name of "." or ".." as %2E or %2E%2E. Put the handler's mount
// prefix in front. A name written with its slashes as they are reaches the
// guard too, but only when nothing in front of the handler cleans paths
// (an http.ServeMux does, and redirects "/v1/guards//pkg.Svc/Method" to
// "/v1/guards/pkg.Svc/Method", which names another guard); the escaped
// form reaches it through any router.
func GuardPath(name string) string {
	e := url.PathEscape(name)
	switch e {
	case ".":
		e = "%2E"
	case "..":
		e = "%2E%2E"
	}
	return guardsPrefix + e
}

// Op is a manual operation on guards.
type Op string

// The operations of POST /v1/operations/{op}.
const (
	// OpOpen forces breakers open: until released, or for a duration, or
	// until a time (after which they probe as after a trip).
	OpOpen Op = "open"
	// OpClose forces breakers closed; it is another name for OpDisable.
	OpClose Op = "close"
	// OpDisable forces breakers closed (admit everything, never trip) until
	// released.
	OpDisable Op = "disable"
	// OpMetricsOnly puts breakers in metrics-only mode (record, never
	// reject) until released.
	OpMetricsOnly Op = "metrics-only"
	// OpReset clears breakers' windows; an automatic breaker closes.
	OpReset Op = "reset"
	// OpRelease returns breakers in a manual state (a timed open included)
	// to automatic operation, closed.
	OpRelease Op = "release"
	// OpPrune removes idle guards (POST /v1/prune).
	OpPrune Op = "prune"
	// OpRestore re-applies a snapshot's manual overrides
	// (POST /v1/snapshot/restore).
	OpRestore Op = "restore"
)

// GuardOps lists the operations accepted by POST /v1/operations/{op}.
var GuardOps = []Op{OpOpen, OpClose, OpDisable, OpMetricsOnly, OpReset, OpRelease}

// GuardList is the answer to GET /v1/guards.
type GuardList struct {
	// TakenAt is when the guards were read.
	TakenAt time.Time `json:"takenAt"`
	// Guards are sorted by name.
	Guards []GuardStatus `json:"guards"`
}

// GuardStatus is one guard as the API shows it (GET /v1/guards and
// GET /v1/guards/{name}).
type GuardStatus struct {
	Name string `json:"name"`
	// Policy is the name of the policy the guard was built from.
	Policy string `json:"policy"`
	// PolicyConfig is the resolved policy; only GET /v1/guards/{name}
	// includes it.
	PolicyConfig *core.Policy `json:"policyConfig,omitempty"`
	Tags         []string     `json:"tags"`
	// Critical guards fail readiness while open.
	Critical bool          `json:"critical"`
	State    breaker.State `json:"state"`
	// Since is when the current state began.
	Since time.Time `json:"since"`
	// OpenUntil is when an open breaker half-opens; absent in other states.
	OpenUntil *time.Time `json:"openUntil,omitempty"`
	// RetryAfter is how long until an open breaker half-opens.
	RetryAfter core.Duration `json:"retryAfter,omitempty"`
	// Override describes the manual state the guard is in, if any.
	Override *Override `json:"override,omitempty"`
	// LastTransition is the most recent state change, if any.
	LastTransition *Transition `json:"lastTransition,omitempty"`
	Counters       Counters    `json:"counters"`
	Window         Window      `json:"window"`
	// Bulkhead is absent when the guard has no bulkhead.
	Bulkhead *BulkheadStatus `json:"bulkhead,omitempty"`
	// RateLimit is absent when the guard has no rate limit.
	RateLimit *RateLimitStatus `json:"rateLimit,omitempty"`
	// Adaptive is absent unless the guard's bulkhead limit is adaptive.
	Adaptive *AdaptiveStatus `json:"adaptive,omitempty"`
	// Throttle is absent unless the guard throttles calls client-side.
	Throttle *ThrottleStatus `json:"throttle,omitempty"`
	// Hedge is absent when the guard does not hedge.
	Hedge *HedgeStatus `json:"hedge,omitempty"`
	// Cache is absent when the guard has no cached fallback.
	Cache *CacheStatus `json:"cache,omitempty"`
	// Overhead is what the guard measured of its own cost; absent before
	// its first sample.
	Overhead *OverheadStatus `json:"overhead,omitempty"`
	// Machine is the guard's custom state; absent when its policy has no
	// machine section (see GET /v1/machines).
	Machine *MachineStatus `json:"machine,omitempty"`
}

// HedgeStatus is a guard's hedging of idempotent calls: the delay in
// force and its counters (see hedge.Stats).
type HedgeStatus struct {
	Delay core.Duration `json:"delay"`
	// Calls counts hedgeable calls; Started the hedges they started, Won
	// those whose answer won, Cancelled the attempts cancelled by another's
	// answer.
	Calls     uint64 `json:"calls"`
	Started   uint64 `json:"started"`
	Won       uint64 `json:"won"`
	Cancelled uint64 `json:"cancelled"`
	// BudgetStopped and GateStopped count hedges not started: the retry
	// budget was spent, or the breaker was not closed.
	BudgetStopped uint64 `json:"budgetStopped"`
	GateStopped   uint64 `json:"gateStopped"`
}

// CacheStatus is a guard's cached fallback: its size and counters (see
// cache.Stats).
type CacheStatus struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Hits counts fresh answers, Shared answers of a concurrent call, Fills
	// calls that ran; StaleServed and StaleMissing failed calls a stale
	// value answered or none could.
	Hits         uint64 `json:"hits"`
	Shared       uint64 `json:"shared"`
	Fills        uint64 `json:"fills"`
	StaleServed  uint64 `json:"staleServed"`
	StaleMissing uint64 `json:"staleMissing"`
	Evictions    uint64 `json:"evictions"`
}

// RateLimitStatus is a guard's rate limit: its configuration, headroom and
// counters.
type RateLimitStatus struct {
	RateLimitInfo
	// Available is how many calls the limit would admit at once now
	// (negative while waiters are in debt).
	Available float64 `json:"available"`
	// RetryAfter is how long until one call would be admitted.
	RetryAfter core.Duration `json:"retryAfter,omitempty"`
	Allowed    uint64        `json:"allowed"`
	Rejected   uint64        `json:"rejected"`
}

// Counters are a guard's cumulative counters since it was created.
type Counters struct {
	Admitted      uint64 `json:"admitted"`
	Succeeded     uint64 `json:"succeeded"`
	Failed        uint64 `json:"failed"`
	Ignored       uint64 `json:"ignored"`
	Slow          uint64 `json:"slow"`
	Rejected      uint64 `json:"rejected"`
	RejectedOpen  uint64 `json:"rejectedOpen"`
	RejectedProbe uint64 `json:"rejectedProbe"`
	RejectedFull  uint64 `json:"rejectedFull"`
	// RejectedLimited counts rate-limit rejections.
	RejectedLimited uint64 `json:"rejectedLimited"`
	// RejectedThrottled counts the client-side throttle's rejections.
	RejectedThrottled uint64 `json:"rejectedThrottled,omitempty"`
	// RejectedState counts the rejections by the guard's custom state.
	RejectedState uint64 `json:"rejectedState,omitempty"`
	ShadowTrips   uint64 `json:"shadowTrips"`
	Transitions   uint64 `json:"transitions"`
}

// Window describes a breaker's current statistics window.
type Window struct {
	Calls    int `json:"calls"`
	Failures int `json:"failures"`
	Slow     int `json:"slow"`
	// FailureRate and SlowCallRate are percentages of Calls.
	FailureRate         float64 `json:"failureRate"`
	SlowCallRate        float64 `json:"slowCallRate"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
	ProbesInFlight      int     `json:"probesInFlight"`
	// RampShare is the percentage of calls a ramping breaker admits now.
	RampShare float64 `json:"rampShare,omitempty"`
}

// BulkheadStatus is a guard's bulkhead: limits, occupancy and counters.
type BulkheadStatus struct {
	MaxConcurrent int           `json:"maxConcurrent"`
	MaxQueue      int           `json:"maxQueue"`
	InUse         int           `json:"inUse"`
	Queued        int           `json:"queued"`
	Rejected      uint64        `json:"rejected"`
	TimedOut      uint64        `json:"timedOut"`
	Canceled      uint64        `json:"canceled"`
	Waited        uint64        `json:"waited"`
	WaitTime      core.Duration `json:"waitTime"`
}

// Transition is a breaker state change.
type Transition struct {
	From   breaker.State `json:"from"`
	To     breaker.State `json:"to"`
	Reason string        `json:"reason,omitempty"`
	// Actor is who made a manual change; empty for automatic ones.
	Actor string    `json:"actor,omitempty"`
	At    time.Time `json:"at"`
	// TraceID is the trace of the call that caused the change (see
	// WithTraceLinks); empty without one.
	TraceID string `json:"traceId,omitempty"`
}

// Override is a manual state an operator (or a policy's mode) put a guard
// in: forced-open, disabled or metrics-only until released, or open until a
// time.
type Override struct {
	State breaker.State `json:"state"`
	// Until is when a manual open ends; absent for the other states.
	Until  *time.Time `json:"until,omitempty"`
	Actor  string     `json:"actor,omitempty"`
	Reason string     `json:"reason,omitempty"`
	At     time.Time  `json:"at"`
}

// OperationRequest is the body of POST /v1/operations/{op}. Exactly one of
// Name, Tag and All selects the guards; Reason is required. Duration or
// Until (not both) make an open temporary; they are accepted by open only.
type OperationRequest struct {
	Name   string `json:"name,omitempty"`
	Tag    string `json:"tag,omitempty"`
	All    bool   `json:"all,omitempty"`
	Reason string `json:"reason"`
	// Duration opens the breakers for this long ("10m"), at most
	// core.MaxDuration (about 146 years).
	Duration core.Duration `json:"duration,omitempty"`
	// Until opens the breakers until this time, in the future and at most
	// core.MaxDuration (about 146 years) away.
	Until *time.Time `json:"until,omitempty"`
}

// Target returns the request's selection of guards.
func (r *OperationRequest) Target() Target { return Target{Name: r.Name, Tag: r.Tag, All: r.All} }

// Target selects guards: one by Name, a group by Tag, or All. Exactly one
// is set.
type Target struct {
	Name string `json:"name,omitempty"`
	Tag  string `json:"tag,omitempty"`
	All  bool   `json:"all,omitempty"`
}

// Selector converts the target to a core.Selector, or reports why it is not
// exactly one choice.
func (t Target) Selector() (core.Selector, error) {
	n := 0
	if t.Name != "" {
		n++
	}
	if t.Tag != "" {
		n++
	}
	if t.All {
		n++
	}
	switch {
	case n == 0:
		return core.Selector{}, errors.New("select guards with one of name, tag or all")
	case n > 1:
		return core.Selector{}, errors.New("name, tag and all are exclusive: set exactly one")
	case t.All:
		return core.All(), nil
	case t.Tag != "":
		return core.Tag(t.Tag), nil
	}
	return core.Name(t.Name), nil
}

// String describes the target: `name "x"`, `tag "y"`, `all`, or `none`
// (a restore, whose guards are those of the snapshot).
func (t Target) String() string {
	if s, err := t.Selector(); err == nil {
		return s.String()
	}
	return "none"
}

// OperationResult is the answer to a guard operation.
type OperationResult struct {
	Op     Op     `json:"op"`
	Target Target `json:"target"`
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	// Changes lists one entry per selected guard, sorted by name; From and
	// To are equal when the operation changed nothing.
	Changes []Change `json:"changes"`
	// AuditSeq is the sequence number of the operation's audit record.
	AuditSeq uint64 `json:"auditSeq"`
}

// Change is the effect of an operation on one guard.
type Change struct {
	Guard string        `json:"guard"`
	From  breaker.State `json:"from"`
	To    breaker.State `json:"to"`
	// OpenUntil is when an opened breaker will probe, for temporary opens.
	OpenUntil *time.Time `json:"openUntil,omitempty"`
}

// PruneRequest is the body of POST /v1/prune. A dry run needs only read
// access, records nothing and changes nothing; it may name fewer guards
// than a real prune would (see admin.Handler).
type PruneRequest struct {
	// Idle is how long a guard must have seen no call; required.
	Idle   core.Duration `json:"idle"`
	DryRun bool          `json:"dryRun,omitempty"`
	// Reason is required unless DryRun is set.
	Reason string `json:"reason,omitempty"`
}

// PruneResult is the answer to POST /v1/prune.
type PruneResult struct {
	// Pruned names the removed guards (or, for a dry run, the guards that
	// would be removed), sorted.
	Pruned []string `json:"pruned"`
	DryRun bool     `json:"dryRun,omitempty"`
	// AuditSeq is the sequence number of the audit record; 0 for a dry run.
	AuditSeq uint64 `json:"auditSeq,omitempty"`
}

// SnapshotVersion is the version of the Snapshot document this package
// writes and reads.
const SnapshotVersion = 1

// Snapshot is the document of GET /v1/snapshot: every guard's state and
// manual override. POST /v1/snapshot/restore re-applies the overrides.
type Snapshot struct {
	Version int             `json:"version"`
	TakenAt time.Time       `json:"takenAt"`
	Guards  []SnapshotGuard `json:"guards"`
}

// SnapshotGuard is one guard in a Snapshot.
type SnapshotGuard struct {
	Name string `json:"name"`
	// Policy is the name of the guard's policy. A restore acts on the
	// guard only if Policy is empty or the policy the name resolves to in
	// the server's registry (core.Registry.PolicyFor); otherwise the whole
	// restore is refused.
	Policy string `json:"policy,omitempty"`
	// Tags are the guard's tags; a guard the restore creates gets them
	// besides its policy's.
	Tags     []string      `json:"tags,omitempty"`
	Critical bool          `json:"critical,omitempty"`
	State    breaker.State `json:"state"`
	Since    time.Time     `json:"since"`
	// OpenUntil is when an open breaker half-opens.
	OpenUntil *time.Time `json:"openUntil,omitempty"`
	// Override is the guard's manual state, if any; restore re-applies it.
	Override *Override `json:"override,omitempty"`
}

// RestoreRequest is the body of POST /v1/snapshot/restore.
type RestoreRequest struct {
	Reason   string   `json:"reason"`
	Snapshot Snapshot `json:"snapshot"`
}

// RestoreResult is the answer to POST /v1/snapshot/restore.
type RestoreResult struct {
	// Changes lists the guards the restore acted on, sorted by name.
	Changes []Change `json:"changes"`
	// Created names guards that did not exist and were created, with the
	// policy their names resolve to (the audit record lists each one's
	// policy and tags).
	Created []string `json:"created,omitempty"`
	// Skipped names guards whose override had expired (an open until a
	// time already past).
	Skipped  []string `json:"skipped,omitempty"`
	AuditSeq uint64   `json:"auditSeq"`
}

// AuditRecord is one write operation in the audit log: who, what, why,
// the selected guards before and after, and when.
type AuditRecord struct {
	// Seq numbers records from 1, in the order the operations were applied.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is the name of the token that authorised the operation.
	Actor string `json:"actor"`
	Op    Op     `json:"op"`
	// Target is the operation's selection; empty for a restore, which acts
	// on the guards of the snapshot (listed in Before and After).
	Target Target `json:"target"`
	Reason string `json:"reason"`
	// Params holds the operation's parameters (duration, until, idle).
	Params map[string]string `json:"params,omitempty"`
	Before []GuardState      `json:"before"`
	After  []GuardState      `json:"after"`
	// Created lists the guards a restore created, with the policy and tags
	// each was created with; their Before entries show them as they were
	// when created, before the snapshot's override was applied.
	Created []CreatedGuard `json:"created,omitempty"`
}

// CreatedGuard is a guard a restore created: the name had no guard yet,
// and the snapshot held a manual override for it. The policy is the one
// the name resolves to in the server's registry (never one the snapshot
// chose); the tags are the policy's and the snapshot's.
type CreatedGuard struct {
	Guard  string   `json:"guard"`
	Policy string   `json:"policy"`
	Tags   []string `json:"tags,omitempty"`
}

// GuardState is a guard's state in an audit record.
type GuardState struct {
	Guard     string        `json:"guard"`
	State     breaker.State `json:"state"`
	OpenUntil *time.Time    `json:"openUntil,omitempty"`
	// Override is set when the state is manual.
	Override *Override `json:"override,omitempty"`
	// Gone is set after a prune removed the guard.
	Gone bool `json:"gone,omitempty"`
}

// Paging limits of GET /v1/audit: a page holds DefaultAuditLimit records
// unless the query's limit asks for another number, at most MaxAuditLimit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditQuery selects audit records: those after the sequence number After,
// at or after Since, at most Limit of them, oldest first.
type AuditQuery struct {
	After uint64
	Since time.Time
	Limit int
}

// AuditPage is the answer to GET /v1/audit: records oldest first. When More
// is set, ask again with after=Next.
type AuditPage struct {
	Records []AuditRecord `json:"records"`
	Next    uint64        `json:"next,omitempty"`
	More    bool          `json:"more"`
}

// Problem is an RFC 9457 problem detail, the body of every error the API
// returns (as application/problem+json).
type Problem struct {
	// Type is a URI naming the kind of problem: ProblemTypePrefix + Code.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request path, escaped as the client sent it.
	Instance string `json:"instance,omitempty"`
	// Code is the short machine-readable kind, such as "unknown_guard".
	Code string `json:"code"`
	// Guard names the guard concerned, when there is one.
	Guard string `json:"guard,omitempty"`
	// Problems lists every problem of a refused policy document (code
	// "invalid_policy_document").
	Problems []core.Problem `json:"problems,omitempty"`
}

// ProblemTypePrefix starts the Type of every Problem.
const ProblemTypePrefix = "urn:breakerbox:problem:"

// Error returns the problem as "<title>: <detail> (<status>)".
func (p *Problem) Error() string {
	s := p.Title
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return fmt.Sprintf("%s (%d)", s, p.Status)
}

// Health statuses of application/health+json (Health.Status,
// Check.Status).
const (
	StatusPass = "pass"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// Health is an application/health+json document (IETF draft "Health Check
// Response Format for HTTP APIs").
type Health struct {
	// Status is "pass", "warn" or "fail".
	Status      string `json:"status"`
	Version     string `json:"version,omitempty"`
	ServiceID   string `json:"serviceId,omitempty"`
	Description string `json:"description,omitempty"`
	// Output explains a warn or fail.
	Output string `json:"output,omitempty"`
	// Checks holds one entry per listed guard (at most
	// admin.MaxHealthChecks; see admin.HealthHandler), keyed
	// "<guard>:circuitBreaker".
	Checks map[string][]Check `json:"checks,omitempty"`
}

// Check is one guard's entry in a Health document.
type Check struct {
	ComponentID   string `json:"componentId"`
	ComponentType string `json:"componentType"`
	// ObservedValue is the breaker's state.
	ObservedValue string    `json:"observedValue"`
	Status        string    `json:"status"`
	Time          time.Time `json:"time"`
	Output        string    `json:"output,omitempty"`
	// Critical guards turn the overall status to fail while open.
	Critical bool `json:"critical,omitempty"`
}
