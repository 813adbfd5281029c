package quota_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

// node is one process of a region: a coordinator candidate with its own
// clients of the root and region stores (so that a test can cut one
// process's link to the root), and a replica limiter.
type node struct {
	rootLink *fleet.MemoryStore
	regLink  *fleet.MemoryStore
	coord    *quota.Coordinator
	lim      *quota.Limiter
}

type region struct {
	name  string
	store *fleet.MemoryStore
	nodes []*node
}

type tree struct {
	t       *testing.T
	res     quota.Resource
	root    *fleet.MemoryStore
	regions []*region
}

// newTree builds regions, each with replicas nodes: every node runs a
// coordinator candidate and a limiter.
func newTree(t *testing.T, res quota.Resource, names []string, replicas int) *tree {
	tr := &tree{t: t, res: res, root: fleet.NewMemoryStore()}
	for _, name := range names {
		r := &region{name: name, store: fleet.NewMemoryStore()}
		for i := range replicas {
			tr.addNode(r, fmt.Sprintf("%s-%d", name, i), quota.ExpectedReplicas(replicas))
		}
		tr.regions = append(tr.regions, r)
	}
	return tr
}

func (tr *tree) addNode(r *region, id string, opts ...quota.Option) *node {
	n := &node{rootLink: tr.root.Client(), regLink: r.store.Client()}
	var err error
	n.coord, err = quota.NewCoordinator(tr.res, n.rootLink, n.regLink, r.name, id, opts...)
	if err != nil {
		tr.t.Fatal(err)
	}
	n.lim, err = quota.NewLimiter(tr.res, r.store.Client(), id, opts...)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.t.Cleanup(func() { _ = n.lim.Close(); _ = n.coord.Close() })
	r.nodes = append(r.nodes, n)
	return n
}

// cut cuts (or heals) every link from region r to the root.
func (r *region) cut(down bool) {
	for _, n := range r.nodes {
		n.rootLink.SetDown(down)
	}
}

// coordinator returns the region's coordinator's stats (false when none
// holds the region).
func (r *region) coordinator() (quota.CoordinatorStats, bool) {
	for _, n := range r.nodes {
		if s := n.coord.Stats(); s.Region {
			return s, true
		}
	}
	return quota.CoordinatorStats{}, false
}

// rate returns the sum of the region's replicas' rates in force.
func (r *region) rate() float64 {
	s := 0.0
	for _, n := range r.nodes {
		s += n.lim.Stats().Rate
	}
	return s
}

func (tr *tree) totalRate() float64 {
	s := 0.0
	for _, r := range tr.regions {
		s += r.rate()
	}
	return s
}

// load drives every replica's limiter at the rate its function returns
// (calls per second, read on every call) until stop is closed, counting
// admitted calls per region.
type load struct {
	wg       sync.WaitGroup
	stop     chan struct{}
	admitted []atomic.Int64 // per region
}

func (tr *tree) drive(rate func(region, replica int) float64) *load {
	ld := &load{stop: make(chan struct{}), admitted: make([]atomic.Int64, len(tr.regions))}
	for ri, r := range tr.regions {
		for ni, n := range r.nodes {
			ld.wg.Go(func() {
				for {
					q := rate(ri, ni)
					every := time.Second
					if q > 0 {
						every = time.Duration(float64(time.Second) / q)
					}
					select {
					case <-ld.stop:
						return
					case <-time.After(every):
					}
					if q > 0 && n.lim.Allow() {
						ld.admitted[ri].Add(1)
					}
				}
			})
		}
	}
	return ld
}

func (ld *load) end() {
	close(ld.stop)
	ld.wg.Wait()
}

func (ld *load) total() int64 {
	s := int64(0)
	for i := range ld.admitted {
		s += ld.admitted[i].Load()
	}
	return s
}

// watch samples the tree every step until the load ends, failing the test
// when the replicas' rates in force, or the root's unexpired grants, sum
// above the capacity.
func (tr *tree) watch(step time.Duration, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(step):
			}
			if got := tr.totalRate(); got > tr.res.Capacity*(1+1e-9) {
				tr.t.Errorf("at %v: replicas' rates sum to %.3f > capacity %v", time.Now().Format("15:04:05.000"), got, tr.res.Capacity)
			}
			for _, r := range tr.regions {
				for _, n := range r.nodes {
					if s := n.coord.Stats(); s.Root && s.RootCommitted > tr.res.Capacity*(1+1e-9) {
						tr.t.Errorf("root commits %.3f > capacity %v", s.RootCommitted, tr.res.Capacity)
					}
				}
			}
		}
	})
	return &wg
}

func near(got, want, tol float64) bool { return got >= want-tol && got <= want+tol }

// rootHolder returns the node holding the root lease.
func (tr *tree) rootHolder() (*node, bool) {
	for _, r := range tr.regions {
		for _, n := range r.nodes {
			if n.coord.Stats().Root {
				return n, true
			}
		}
	}
	return nil, false
}

// perSecond samples the admitted total every second until stop, and
// fails the test in any second above limit.
func (tr *tree) perSecond(ld *load, limit float64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		last := ld.total()
		for {
			select {
			case <-ld.stop:
				return
			case <-time.After(time.Second):
			}
			cur := ld.total()
			if float64(cur-last) > limit {
				tr.t.Errorf("at %v: %d calls admitted in one second > %v", time.Now().Format("15:04:05"), cur-last, limit)
			}
			last = cur
		}
	})
	return &wg
}

// regionLeases returns each region's coordinator's capacity.
func (tr *tree) regionLeases() []float64 {
	out := make([]float64, len(tr.regions))
	for i, r := range tr.regions {
		s, _ := r.coordinator()
		out[i] = s.RegionCapacity
	}
	return out
}
