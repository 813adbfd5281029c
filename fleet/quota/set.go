package quota

import (
	"slices"
	"strings"
	"sync"
)

// Set gathers the coordinators and limiters of one process, so that an
// operator surface (admin.WithQuotas, breakerctl quotas) can show them
// all. The zero value is empty and ready; a Set is safe for concurrent
// use. It only reads their Stats, which never wait on a store.
type Set struct {
	mu     sync.Mutex
	coords []*Coordinator
	lims   []*Limiter
}

// AddCoordinator adds c to the set; nil is ignored.
func (s *Set) AddCoordinator(c *Coordinator) {
	if c == nil {
		return
	}
	s.mu.Lock()
	s.coords = append(s.coords, c)
	s.mu.Unlock()
}

// AddLimiter adds l to the set; nil is ignored.
func (s *Set) AddLimiter(l *Limiter) {
	if l == nil {
		return
	}
	s.mu.Lock()
	s.lims = append(s.lims, l)
	s.mu.Unlock()
}

// ResourceStats is one resource as this process takes part in it: its
// coordinator's and its limiter's stats, each nil when the process runs
// none for the resource.
type ResourceStats struct {
	// Resource is the resource's name; Capacity and SafeCapacity its
	// limits (calls per second over every region, and per region without
	// a lease).
	Resource     string  `json:"resource"`
	Capacity     float64 `json:"capacity"`
	SafeCapacity float64 `json:"safeCapacity"`
	// Region and Replica name this process (Region from its coordinator,
	// empty without one).
	Region      string            `json:"region,omitempty"`
	Replica     string            `json:"replica,omitempty"`
	Coordinator *CoordinatorStats `json:"coordinator,omitempty"`
	Limiter     *LimiterStats     `json:"limiter,omitempty"`
}

// Stats returns every resource of the set, by name.
func (s *Set) Stats() []ResourceStats {
	s.mu.Lock()
	coords, lims := slices.Clone(s.coords), slices.Clone(s.lims)
	s.mu.Unlock()
	by := map[string]*ResourceStats{}
	get := func(res Resource, replica string) *ResourceStats {
		r := by[res.Name]
		if r == nil {
			r = &ResourceStats{Resource: res.Name, Capacity: res.Capacity, SafeCapacity: res.SafeCapacity, Replica: replica}
			by[res.Name] = r
		}
		return r
	}
	for _, c := range coords {
		st := c.Stats()
		r := get(c.res, c.id)
		r.Region, r.Coordinator = c.region, &st
	}
	for _, l := range lims {
		st := l.Stats()
		r := get(l.res, l.id)
		r.Limiter = &st
	}
	out := make([]ResourceStats, 0, len(by))
	for _, r := range by {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y ResourceStats) int { return strings.Compare(x.Resource, y.Resource) })
	return out
}
