package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Server is the admin API of one registry: an http.Handler serving the
// versioned JSON API under /v1/ (with the event stream), the health
// endpoints /health, /ready and /live, the debug page /debug and the
// dashboard at /. Mount it under any prefix with http.StripPrefix. It adds
// a hook to the registry and runs a sampler goroutine (see Start), both
// ended by Close. It is safe for concurrent use; write operations are
// applied one at a time, in the order of their audit records.
type Server struct {
	reg    *core.Registry
	cfg    *config
	auth   *authenticator
	mux    *http.ServeMux
	health *healthHandler
	mem    *memoryLog
	reader AuditReader // nil: GET /v1/audit reads mem
	now    func() time.Time

	opMu sync.Mutex // serialises write operations and their audit records
	seq  uint64     // last audit sequence number used, under opMu

	hist        *history
	sampler     *sampler
	removeHooks func()
	traces      *rejectTraces // nil without WithTraceLinks

	guard http.Handler // GET /v1/guards/{name}, routed by ServeHTTP
}

// New returns the admin API of reg configured by opts, or the first
// configuration error (a token too short, an unreadable audit sink).
func New(reg *core.Registry, opts ...Option) (*Server, error) {
	if reg == nil {
		return nil, errNilRegistry
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{
		reg:     reg,
		cfg:     cfg,
		auth:    newAuthenticator(cfg.tokens, cfg.openRead),
		mem:     &memoryLog{n: cfg.recent},
		now:     time.Now,
		hist:    newHistory(cfg.historyLimit),
		sampler: newSampler(),
	}
	s.health = &healthHandler{reg: reg, cfg: cfg, now: s.now}
	if cfg.historyStore != nil && cfg.historyStore.store != nil { // persist: historystore.go
		s.hist.persist = newPersister(cfg.historyStore, cfg.logger)
		s.hist.persist.load(s.hist, s.now())
	}
	for _, sink := range cfg.sinks {
		r, ok := sink.(AuditReader)
		if !ok {
			continue
		}
		if s.reader == nil {
			s.reader = r
		}
		last, err := r.LastAuditSeq(context.Background())
		if err != nil {
			return nil, fmt.Errorf("admin: audit sink: %w", err)
		}
		s.seq = max(s.seq, last)
	}
	s.routes()
	removeHooks, stopChaos := reg.AddHooks(s.hooks()), s.auditPolicyChaos() // chaos_policy.go
	s.removeHooks = func() { removeHooks(); stopChaos() }
	return s, nil
}

// Handler returns the admin API of reg (see Server). A configuration error
// does not open anything: the handler answers every request with a 500
// problem (which does not say what is wrong, lest it show a token) and
// logs the error once to slog.Default. The Server it returns is
// never closed (its sampler runs for the life of the process); use New for
// one you can Close.
func Handler(reg *core.Registry, opts ...Option) http.Handler {
	s, err := New(reg, opts...)
	if err != nil {
		return misconfigured(err)
	}
	return s
}

// misconfigured answers every request with a 500 that says only that the
// handler is misconfigured: the error may concern tokens, and clients
// (unauthenticated health probes included) learn nothing of them. The
// error itself, which never holds a secret (see ParseTokens), is logged
// once to slog.Default.
func misconfigured(err error) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			slog.Default().Error("breakerbox admin: misconfigured; every request is answered with a 500", "err", err)
		})
		writeProblem(w, r, problem(http.StatusInternalServerError, codeMisconfigured, "the admin handler is misconfigured; the server's log says why"))
	})
}

// ServeHTTP serves the admin API. The first request starts the sampler
// (see Start).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.sampler.state.Load() == samplerIdle {
		s.Start()
	}
	if p := crossOrigin(r, s.cfg.origins); p != nil {
		writeProblem(w, r, p)
		return
	}
	// The path of one guard is routed here, not by the ServeMux, which
	// would clean a name such as "/pkg.Svc/Method" or "a/../b" and
	// redirect the client to another path: everything after the prefix,
	// escaped or not, is the name.
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), guardsPrefix); ok {
		name, err := url.PathUnescape(rest)
		if err != nil { // cannot happen: EscapedPath is validly escaped
			writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "the guard name in the path is not validly escaped: "+err.Error()))
			return
		}
		r.SetPathValue("name", name)
		s.guard.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// guardsPrefix starts the path of one guard, GET /v1/guards/{name}.
const guardsPrefix = "/" + APIVersion + "/guards/"

// HealthHandler returns the health endpoints of the server alone, to mount
// where probes reach them; see the package function HealthHandler.
func (s *Server) HealthHandler() http.Handler { return s.health }

var errNilRegistry = errors.New("admin: registry must not be nil")

type methods map[string]http.HandlerFunc

func (s *Server) handle(pattern string, ms methods) {
	s.mux.Handle(pattern, ms.handler())
}

// handler dispatches on the method (HEAD as GET) and answers 405 to others.
func (ms methods) handler() http.Handler {
	if get, ok := ms[http.MethodGet]; ok {
		ms[http.MethodHead] = get
	}
	allow := make([]string, 0, len(ms))
	for m := range ms {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := ms[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, r, problem(http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed here; use "+strings.Join(allow, " or ")))
			return
		}
		h(w, r)
	})
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	v := "/" + APIVersion
	s.handle(v+"/guards", methods{http.MethodGet: s.listGuards})
	s.guard = methods{http.MethodGet: s.getGuard}.handler() // see ServeHTTP
	s.handle(v+"/operations/{op}", methods{http.MethodPost: s.operate})
	s.handle(v+"/prune", methods{http.MethodPost: s.prune})
	s.handle(v+"/snapshot", methods{http.MethodGet: s.saveSnapshot})
	s.handle(v+"/snapshot/restore", methods{http.MethodPost: s.restore})
	s.handle(v+"/audit", methods{http.MethodGet: s.readAudit})
	s.handle(v+"/events", methods{http.MethodGet: s.events})
	s.handle(v+"/history", methods{http.MethodGet: s.history})
	s.handle(v+"/whoami", methods{http.MethodGet: s.whoami})
	s.policyRoutes(v) // policies.go
	// The recording, record.go.
	s.handle(v+"/recording", methods{http.MethodGet: s.exportRecording, http.MethodPost: s.importRecording})
	s.handle(v+"/variants", methods{http.MethodGet: s.variants})
	// ---- issue #23: dependencies and maintenance windows ----
	s.handle(v+"/dependencies", methods{http.MethodGet: s.dependencies}) // dependencies.go
	s.maintenanceRoutes(v)                                               // maintenance.go
	// ---- end issue #23 ----
	s.chaosRoutes(v)                                     // chaos.go
	s.handle(v+"/cost", methods{http.MethodGet: s.cost}) // cost.go
	s.machineRoutes(v)                                   // machines.go
	s.fleetRoutes(v)                                     // fleet.go (issue #20)
	s.regionRoutes(v)                                    // regions.go (issue #26)
	s.quotaRoutes(v)                                     // quotas.go (issue #26)
	s.handle("/debug", methods{http.MethodGet: s.debugPage})
	s.handle("/{$}", methods{http.MethodGet: s.dashboardPage})
	s.handle("/assets/{file}", methods{http.MethodGet: s.asset})
	for _, p := range []string{"/health", "/ready", "/live"} {
		s.handle(p, methods{http.MethodGet: s.health.ServeHTTP})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem(http.StatusNotFound, codeNotFound, "no such endpoint: "+r.URL.EscapedPath()))
	})
}

// authorize checks r for access need; on failure it answers and returns
// false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, need Access) (principal, bool) {
	p, prob := s.auth.authorize(r, need, false)
	if prob != nil {
		writeProblem(w, r, prob)
		return principal{}, false
	}
	return p, true
}

// snapshot reads every guard, and the time it did.
func (s *Server) snapshot() ([]core.GuardSnapshot, time.Time) {
	return s.reg.Snapshot(), s.now()
}

func (s *Server) listGuards(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	q := r.URL.Query()
	tag := q.Get("tag")
	var state *breaker.State
	if v := q.Get("state"); v != "" {
		st, err := breaker.ParseState(v)
		if err != nil {
			writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "state: "+quote(v)+" is not one of closed, open, half-open, forced-open, disabled, metrics-only"))
			return
		}
		state = &st
	}
	snaps, now := s.snapshot()
	out := GuardList{TakenAt: now, Guards: []GuardStatus{}}
	for i := range snaps {
		g := &snaps[i]
		if tag != "" && !slices.Contains(g.Tags, tag) || state != nil && g.Breaker.State != *state {
			continue
		}
		out.Guards = append(out.Guards, statusOf(g, now))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) getGuard(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	name := r.PathValue("name")
	if name == "" {
		writeProblem(w, r, problem(http.StatusNotFound, codeNotFound, "no guard named in the path: GET "+guardsPrefix+"{name}, with the name escaped as one segment (\"/\" as %2F); GET /"+APIVersion+"/guards lists every guard"))
		return
	}
	g, ok := s.reg.Lookup(name)
	if !ok {
		writeProblem(w, r, unknownGuard(name))
		return
	}
	snap := g.Snapshot()
	st := statusOf(&snap, s.now())
	p := g.Policy()
	st.PolicyConfig = &p
	writeJSON(w, r, http.StatusOK, st)
}

func unknownGuard(name string) *Problem {
	p := problem(http.StatusNotFound, codeUnknownGuard, "no guard is called "+quote(name))
	p.Guard = name
	return p
}

func (s *Server) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	snaps, now := s.snapshot()
	doc := Snapshot{Version: SnapshotVersion, TakenAt: now, Guards: make([]SnapshotGuard, len(snaps))}
	for i := range snaps {
		doc.Guards[i] = snapshotGuardOf(&snaps[i])
	}
	writeJSON(w, r, http.StatusOK, doc)
}

func (s *Server) readAudit(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	q, prob := parseAuditQuery(r)
	if prob != nil {
		writeProblem(w, r, prob)
		return
	}
	var p AuditPage
	if s.reader != nil {
		var err error
		if p, err = s.reader.ReadAudit(r.Context(), q); err != nil {
			s.cfg.logger.Error("breakerbox admin: reading the audit log", "err", err)
			writeProblem(w, r, problem(http.StatusInternalServerError, codeAuditFailed, "reading the audit log: "+err.Error()))
			return
		}
	} else {
		p = s.mem.read(q)
	}
	if p.Records == nil {
		p.Records = []AuditRecord{}
	}
	writeJSON(w, r, http.StatusOK, p)
}

func parseAuditQuery(r *http.Request) (AuditQuery, *Problem) {
	v := r.URL.Query()
	q := AuditQuery{Limit: DefaultAuditLimit}
	if a := v.Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return q, problem(http.StatusBadRequest, codeInvalid, "after: "+quote(a)+" is not a sequence number")
		}
		q.After = n
	}
	if a := v.Get("since"); a != "" {
		t, err := time.Parse(time.RFC3339, a)
		if err != nil {
			return q, problem(http.StatusBadRequest, codeInvalid, "since: "+quote(a)+" is not an RFC 3339 time such as 2006-01-02T15:04:05Z")
		}
		q.Since = t
	}
	if a := v.Get("limit"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > MaxAuditLimit {
			return q, problem(http.StatusBadRequest, codeInvalid, fmt.Sprintf("limit: %q must be a number from 1 to %d", a, MaxAuditLimit))
		}
		q.Limit = n
	}
	return q, nil
}
