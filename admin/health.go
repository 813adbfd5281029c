package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

const (
	// MaxHealthChecks is the most checks a /health or /ready document
	// lists, whatever the number of guards.
	MaxHealthChecks = 100
	// maxHealthNames is the most guard names an Output names.
	maxHealthNames = 10
	// healthRescan is how old the health endpoints' list of guards may
	// grow before a request has it refreshed, off the request path.
	healthRescan = 5 * time.Second
	// healthMaxAge is how old that list may grow before a request
	// refreshes it itself: the bound on its staleness should the refresh
	// never be scheduled.
	healthMaxAge = time.Minute
)

// HealthHandler returns the health endpoints of reg alone, to mount where
// load balancers and orchestrators probe (they need no token):
//
//   - /health: an application/health+json document. A guard passes when
//     closed, disabled or metrics-only; warns when half-open, or open (or
//     forced open) and not critical; fails when critical and open or forced
//     open. The document's status is the worst guard's; the answer is 200
//     for pass and warn, 503 for fail. It lists at most MaxHealthChecks
//     checks: the critical guards, then the guards that do not pass, then
//     the others, each group by name.
//   - /ready: 503 (status fail) only while a guard marked critical is open
//     or forced open, listing those guards; 200 (pass) otherwise.
//   - /live: always 200 (pass); it never looks at breakers, so an outage of
//     a dependency does not get the process restarted.
//
// With WithFleet, while the fleet's store is down, /health also lists a
// check "fleet:store" that warns, with the store's last error and since
// when: the document's status is then at least warn, and never fail or 503
// because of the store (guards keep deciding alone). /ready and /live do
// not look at the store. Likewise with WithRegions (a region agent with a
// Health method, RegionsHealth), a check "regions" warns while the region
// store or a link of the relay named by region.WithRelay is down.
//
// A request costs time and memory in proportion to the critical guards and
// MaxHealthChecks, never to all the guards: the handler keeps the list of
// critical guards and of the guards it lists, refreshed in the background
// when older than 5 seconds, and reads the state of each of those at every
// request. So the critical guards' states are always current; the count of
// other guards open or half-open beyond the listed ones, and a critical
// guard created in the last few seconds, may lag by one refresh (a Server's
// health endpoints learn of a new critical guard at its first state
// change). The answers hold no operator's reason or name: a manual state is
// reported as such, without why or by whom.
//
// The paths are matched exactly; mount the handler with http.StripPrefix
// to serve them under a prefix. Only WithService, WithHealthSummary,
// WithFleet and WithRegions among the options apply; the others, and their errors, are
// ignored, so that the options of Handler can be passed as they are and a
// mistake in them never fails a liveness probe. Handler serves the same
// endpoints.
func HealthHandler(reg *core.Registry, opts ...Option) http.Handler {
	if reg == nil {
		return misconfigured(errNilRegistry)
	}
	cfg := &config{}
	for _, o := range opts {
		if o != nil {
			_ = o.apply(cfg)
		}
	}
	return &healthHandler{reg: reg, cfg: cfg, now: time.Now}
}

// WithHealthSummary makes /health and /ready answer with a status and a
// count of the guards at fault, without a check per guard or any guard's
// name: for probes reachable from where the guards' names should not be
// read.
func WithHealthSummary() Option {
	return optionFunc(func(c *config) error { c.healthSummary = true; return nil })
}

type healthHandler struct {
	reg *core.Registry
	cfg *config
	now func() time.Time

	scan    atomic.Pointer[healthScan]
	scanMu  sync.Mutex  // held while a scan is under way
	stale   atomic.Bool // a scan is needed before the next answer
	pending atomic.Bool // a background scan is starting or under way
}

// healthScan is what the health endpoints know of the registry's guards,
// as of one scan: which to read at every request.
type healthScan struct {
	at       time.Time
	critical []*core.Guard          // every critical guard, by name
	byName   map[string]*core.Guard // the critical guards
	// others are the non-critical guards a document may list: those not
	// passing at the scan, then the others, by name; at most
	// MaxHealthChecks.
	others []*core.Guard
	// faulty counts the non-critical guards open or half-open at the scan
	// and not in others.
	faulty int
}

// passing reports whether a breaker in state st lets calls through.
func passing(st breaker.State) bool {
	return st != breaker.Open && st != breaker.ForcedOpen && st != breaker.HalfOpen
}

// blocking reports whether a breaker in state st rejects every call.
func blocking(st breaker.State) bool { return st == breaker.Open || st == breaker.ForcedOpen }

// current returns a scan recent enough for a request at now: the last one,
// with a refresh started in the background when it is older than
// healthRescan; a fresh one made here when there is none yet, when it is
// older than healthMaxAge, or when a new critical guard made it stale.
func (h *healthHandler) current(now time.Time) *healthScan {
	sc := h.scan.Load()
	if sc != nil && !h.stale.Load() && now.Sub(sc.at) < healthMaxAge {
		if now.Sub(sc.at) >= healthRescan && h.pending.CompareAndSwap(false, true) {
			go func() {
				defer h.pending.Store(false)
				h.scanMu.Lock()
				defer h.scanMu.Unlock()
				if cur := h.scan.Load(); cur == sc { // nobody refreshed it meanwhile
					h.rescan(h.now())
				}
			}()
		}
		return sc
	}
	h.scanMu.Lock()
	defer h.scanMu.Unlock()
	if cur := h.scan.Load(); cur != sc && cur != nil && !h.stale.Load() {
		return cur // refreshed while this request waited
	}
	return h.rescan(now)
}

// rescan lists the guards anew; h.scanMu is held.
func (h *healthHandler) rescan(now time.Time) *healthScan {
	h.stale.Store(false)
	gs, _ := h.reg.Guards(core.All())
	sc := &healthScan{at: now, byName: map[string]*core.Guard{}}
	var ok []*core.Guard
	for _, g := range gs {
		if g.Critical() {
			sc.critical = append(sc.critical, g)
			sc.byName[g.Name()] = g
			continue
		}
		switch {
		case !passing(g.Breaker().State()):
			if len(sc.others) < MaxHealthChecks {
				sc.others = append(sc.others, g)
			} else {
				sc.faulty++
			}
		case len(ok) < MaxHealthChecks:
			ok = append(ok, g)
		}
	}
	sc.others = append(sc.others, ok[:min(len(ok), MaxHealthChecks-len(sc.others))]...)
	h.scan.Store(sc)
	return sc
}

// noteStateChange marks the scan stale when a critical guard it does not
// know changed state; a Server calls it from its registry hook.
func (h *healthHandler) noteStateChange(name string) {
	sc := h.scan.Load()
	if sc == nil || h.stale.Load() {
		return
	}
	if g, ok := h.reg.Lookup(name); ok && g.Critical() && sc.byName[name] != g {
		h.stale.Store(true)
	}
}

// ServeHTTP serves /health, /ready and /live.
func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, r, problem(http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed here; use GET or HEAD"))
		return
	}
	switch r.URL.Path {
	case "/health":
		doc := h.health(false)
		h.addFleetHealth(&doc, h.now())   // fleet.go (issue #20)
		h.addRegionsHealth(&doc, h.now()) // regions.go (issue #26)
		h.writeHealth(w, doc)
	case "/ready":
		h.writeHealth(w, h.health(true))
	case "/live":
		h.writeHealth(w, h.base(StatusPass))
	default:
		writeProblem(w, r, problem(http.StatusNotFound, codeNotFound, "no such endpoint: "+r.URL.EscapedPath()+"; the health endpoints are /health, /ready and /live"))
	}
}

func (h *healthHandler) base(status string) Health {
	return Health{Status: status, ServiceID: h.cfg.serviceID, Description: h.cfg.description, Version: h.cfg.version}
}

// healthEntry is one guard read for a document.
type healthEntry struct {
	g        *core.Guard
	state    breaker.State
	status   string
	critical bool
}

func rank(status string) int {
	switch status {
	case StatusFail:
		return 0
	case StatusWarn:
		return 1
	}
	return 2
}

// health builds the /health document, or with ready the /ready one (only
// critical guards, and only while they fail). It reads the state of the
// critical guards and of the listed others, nothing more.
func (h *healthHandler) health(ready bool) Health {
	now := h.now()
	sc := h.current(now)
	doc := h.base(StatusPass)
	summary := h.cfg.healthSummary
	var entries []healthEntry
	var failing, warning []string
	nFail, nWarn := 0, 0
	add := func(g *core.Guard, critical bool) {
		if g.Pruned() {
			return
		}
		st := g.Breaker().State()
		e := healthEntry{g: g, state: st, status: StatusPass, critical: critical}
		switch {
		case blocking(st) && critical:
			e.status = StatusFail
			nFail++
			if len(failing) < maxHealthNames {
				failing = append(failing, g.Name())
			}
		case !passing(st):
			e.status = StatusWarn
			nWarn++
			if len(warning) < maxHealthNames {
				warning = append(warning, g.Name())
			}
		}
		if summary || ready && e.status != StatusFail {
			return
		}
		entries = append(entries, e)
	}
	for _, g := range sc.critical {
		add(g, true)
	}
	if !ready {
		for _, g := range sc.others {
			add(g, false)
		}
		nWarn += sc.faulty
	}
	switch {
	case nFail > 0:
		doc.Status = StatusFail
		doc.Output = faultOutput(summary, "critical guards open", failing, nFail)
	case nWarn > 0 && !ready:
		doc.Status = StatusWarn
		doc.Output = faultOutput(summary, "guards open or half-open", warning, nWarn)
	}
	if len(entries) == 0 {
		return doc
	}
	// The critical guards first, then the others; failing, then warning,
	// then passing within each; by name (the scan's order) within those.
	slices.SortStableFunc(entries, func(a, b healthEntry) int {
		switch {
		case a.critical && !b.critical:
			return -1
		case b.critical && !a.critical:
			return 1
		}
		return rank(a.status) - rank(b.status)
	})
	entries = entries[:min(len(entries), MaxHealthChecks)]
	doc.Checks = make(map[string][]Check, len(entries))
	for _, e := range entries {
		b := e.g.Breaker().Snapshot()
		c := Check{
			ComponentID:   e.g.Name(),
			ComponentType: "component",
			ObservedValue: b.State.String(),
			Status:        e.status,
			Time:          b.Since,
			Critical:      e.critical,
		}
		if b.State != e.state { // it changed since: report what was judged
			c.ObservedValue = e.state.String()
		}
		if c.Time.IsZero() {
			c.Time = now
		}
		if e.status != StatusPass {
			c.Output = checkOutput(&b)
		}
		doc.Checks[c.ComponentID+":circuitBreaker"] = []Check{c}
	}
	return doc
}

// checkOutput explains a breaker's state without an operator's words: a
// manual state says so, an automatic one gives the breaker's own reason
// (such as "failure rate 60% >= 50% over 20 calls").
func checkOutput(b *breaker.Snapshot) string {
	if b.Manual || b.LastTransition.Actor != "" {
		return "set by an operator"
	}
	return b.LastTransition.Reason
}

// faultOutput is "<what>: a, b, c" naming at most maxHealthNames guards
// and counting the others, or with summary "<n> <what>".
func faultOutput(summary bool, what string, names []string, n int) string {
	if summary {
		return strconv.Itoa(n) + " " + what
	}
	s := what + ": " + strings.Join(names, ", ")
	if n > len(names) {
		s += " and " + strconv.Itoa(n-len(names)) + " more"
	}
	return s
}

func (h *healthHandler) writeHealth(w http.ResponseWriter, doc Health) {
	b, _ := json.Marshal(doc) // Health holds only plain values
	status := http.StatusOK
	if doc.Status == StatusFail {
		status = http.StatusServiceUnavailable
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/health+json")
	hd.Set("Content-Length", strconv.Itoa(len(b)+1))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
