package quota

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Resource is a global rate limit shared by every region: Capacity calls
// per second in total, SafeCapacity calls per second for a region that
// holds no lease from the root (the root is unreachable, or has not
// answered yet), split among the region's live replicas.
//
// Leases last LeaseTTL and are asked for again every RefreshEvery, so a
// lease outlives a few lost refreshes. LeaseTTL must be at least six
// RefreshEvery: a replica's lease ends with the region lease it was carved
// from, and each level may take up to two refreshes to answer (the request
// arrives just after the parent's round, the answer just after the
// child's), so five refreshes can pass between a region's request and its
// replica reading the next lease; the sixth is the margin.
//
// The zero value is not valid: Validate says which field is wrong.
type Resource struct {
	// Name identifies the resource in the stores ("openai-tokens"). It may
	// not contain '/'.
	Name string
	// Capacity is the global limit, in calls per second, over every region.
	Capacity float64
	// SafeCapacity is what a region admits, in calls per second, while it
	// holds no lease from the root. The root reserves it for every region
	// it knows, so the regions' safe capacities must fit in Capacity with
	// room to share: a region's lease is never below it.
	SafeCapacity float64
	// LeaseTTL is how long a lease lasts (default 10s).
	LeaseTTL time.Duration
	// RefreshEvery is how often leases are asked for again (default 1s).
	RefreshEvery time.Duration
}

// Default lease timing.
const (
	DefaultLeaseTTL     = 10 * time.Second
	DefaultRefreshEvery = time.Second
)

// withDefaults fills the zero durations.
func (r Resource) withDefaults() Resource {
	if r.LeaseTTL == 0 {
		r.LeaseTTL = DefaultLeaseTTL
	}
	if r.RefreshEvery == 0 {
		r.RefreshEvery = DefaultRefreshEvery
	}
	return r
}

// MaxPeriod is the longest LeaseTTL or RefreshEvery a Resource may have
// (2^58 ns, about nine years): leases are computed as multiples of them,
// which must not overflow.
const MaxPeriod = time.Duration(1) << 58

// Validate reports the first invalid field, naming it and its value.
// Zero durations take their defaults.
func (r Resource) Validate() error {
	r = r.withDefaults()
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case r.Name == "":
		return fmt.Errorf("quota: resource name is empty")
	case strings.ContainsAny(r.Name, "/#"):
		return fmt.Errorf("quota: resource name %q: may not contain '/' or '#'", r.Name)
	case bad(r.Capacity) || r.Capacity <= 0:
		return fmt.Errorf("quota: resource %q: capacity %v: must be a positive number of calls per second", r.Name, r.Capacity)
	case bad(r.SafeCapacity) || r.SafeCapacity < 0:
		return fmt.Errorf("quota: resource %q: safeCapacity %v: must be zero or more calls per second", r.Name, r.SafeCapacity)
	case r.SafeCapacity > r.Capacity:
		return fmt.Errorf("quota: resource %q: safeCapacity %v: above capacity %v", r.Name, r.SafeCapacity, r.Capacity)
	case r.LeaseTTL < 0:
		return fmt.Errorf("quota: resource %q: leaseTTL %v: must be positive", r.Name, r.LeaseTTL)
	case r.RefreshEvery < 0:
		return fmt.Errorf("quota: resource %q: refreshEvery %v: must be positive", r.Name, r.RefreshEvery)
	case r.RefreshEvery < time.Millisecond:
		return fmt.Errorf("quota: resource %q: refreshEvery %v: must be at least 1ms", r.Name, r.RefreshEvery)
	case r.RefreshEvery > MaxPeriod:
		return fmt.Errorf("quota: resource %q: refreshEvery %v: must be at most %v", r.Name, r.RefreshEvery, MaxPeriod)
	case r.LeaseTTL > MaxPeriod:
		return fmt.Errorf("quota: resource %q: leaseTTL %v: must be at most %v", r.Name, r.LeaseTTL, MaxPeriod)
	case r.LeaseTTL < 6*r.RefreshEvery:
		return fmt.Errorf("quota: resource %q: leaseTTL %v: must be at least six refreshEvery (%v)", r.Name, r.LeaseTTL, 6*r.RefreshEvery)
	}
	return nil
}
