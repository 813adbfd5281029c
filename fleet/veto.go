package fleet

import (
	"sync"
	"sync/atomic"

	"github.com/breakerbox/breakerbox/core"
)

// ProbeVeto is asked before a half-open guard of the fleet admits a probe:
// when it returns true, the probe is refused (the call is rejected as if
// the probe slots were taken), this replica does not compete for the
// guard's probe lease, and the outcomes of other replicas' probes (the
// lease) do not move the guard: it is held by the veto's owner. Package fleet/region adds one so that a guard held
// open because enough regions report it open does not probe while they
// do. A veto runs on the call's goroutine, in the half-open slow path
// only: it must be quick, must not block, and must be safe for concurrent
// use.
type ProbeVeto func(g *core.Guard) bool

// vetoes are the probe vetoes of an Agent; the zero value holds none.
type vetoes struct {
	mu   sync.Mutex
	list []*ProbeVeto // copy on write; read through snap
	snap atomicVetoes
}

// AddProbeVeto adds v to the agent's probe gate: a half-open guard admits
// no probe (and this replica takes no probe lease for it) while any veto
// returns true for it. Vetoes are consulted before the fleet's own rule,
// so they hold even while the store is unreachable. The returned func
// removes v; it is idempotent. A nil v adds nothing.
func (a *Agent) AddProbeVeto(v ProbeVeto) (remove func()) {
	if v == nil {
		return func() {}
	}
	p := &v
	a.vetoes.mu.Lock()
	a.vetoes.list = append(append([]*ProbeVeto(nil), a.vetoes.list...), p)
	a.vetoes.snap.Store(a.vetoes.list)
	a.vetoes.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.vetoes.mu.Lock()
			defer a.vetoes.mu.Unlock()
			out := make([]*ProbeVeto, 0, len(a.vetoes.list))
			for _, q := range a.vetoes.list {
				if q != p {
					out = append(out, q)
				}
			}
			a.vetoes.list = out
			a.vetoes.snap.Store(out)
		})
	}
}

// vetoed reports whether a veto refuses a probe of gf now. A panicking
// veto refuses nothing.
func (a *Agent) vetoed(gf *guardFleet) bool {
	for _, v := range a.vetoes.snap.Load() {
		if callVeto(*v, gf.g) {
			return true
		}
	}
	return false
}

func callVeto(v ProbeVeto, g *core.Guard) (no bool) {
	defer func() {
		if recover() != nil {
			no = false
		}
	}()
	return v(g)
}

// atomicVetoes is an atomic pointer to a slice of vetoes.
type atomicVetoes struct{ p atomic.Pointer[[]*ProbeVeto] }

func (x *atomicVetoes) Store(l []*ProbeVeto) { x.p.Store(&l) }

func (x *atomicVetoes) Load() []*ProbeVeto {
	if l := x.p.Load(); l != nil {
		return *l
	}
	return nil
}
