package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Health statuses of application/health+json.
const (
	StatusPass = "pass"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// HealthHandler returns the health endpoints of reg alone, to mount where
// load balancers and orchestrators probe (they need no token):
//
//   - /health: an application/health+json document with a check per guard.
//     A guard passes when closed, disabled or metrics-only; warns when
//     half-open, or open (or forced open) and not critical; fails when
//     critical and open or forced open. The document's status is the worst
//     check's; the answer is 200 for pass and warn, 503 for fail.
//   - /ready: 503 (status fail) only while a guard marked critical is open
//     or forced open, naming those guards; 200 (pass) otherwise.
//   - /live: always 200 (pass); it never looks at breakers, so an outage of
//     a dependency does not get the process restarted.
//
// The paths are matched exactly; mount the handler with http.StripPrefix
// to serve them under a prefix. Only WithService among the options
// applies; the others, and their errors, are ignored, so that the options
// of Handler can be passed as they are and a mistake in them never fails a
// liveness probe. Handler serves the same endpoints.
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

type healthHandler struct {
	reg *core.Registry
	cfg *config
	now func() time.Time
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
		h.writeHealth(w, h.health(false))
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

// blocking reports whether a breaker in state st rejects every call.
func blocking(st breaker.State) bool { return st == breaker.Open || st == breaker.ForcedOpen }

// health builds the /health document, or with ready the /ready one (only
// critical guards, and only while they fail).
func (h *healthHandler) health(ready bool) Health {
	doc := h.base(StatusPass)
	var failing, warning []string
	for _, s := range h.reg.Snapshot() {
		st := s.Breaker.State
		c := Check{
			ComponentID:   s.Name,
			ComponentType: "component",
			ObservedValue: st.String(),
			Status:        StatusPass,
			Time:          s.Breaker.Since,
			Critical:      s.Critical,
		}
		if c.Time.IsZero() {
			c.Time = h.now()
		}
		switch {
		case blocking(st) && s.Critical:
			c.Status = StatusFail
			failing = append(failing, s.Name)
		case blocking(st) || st == breaker.HalfOpen:
			c.Status = StatusWarn
			warning = append(warning, s.Name)
		}
		if c.Status != StatusPass {
			c.Output = s.Breaker.LastTransition.Reason
		}
		if ready && c.Status != StatusFail {
			continue
		}
		if doc.Checks == nil {
			doc.Checks = map[string][]Check{}
		}
		doc.Checks[s.Name+":circuitBreaker"] = []Check{c}
	}
	switch {
	case len(failing) > 0:
		doc.Status = StatusFail
		doc.Output = "critical guards open: " + strings.Join(failing, ", ")
	case len(warning) > 0 && !ready:
		doc.Status = StatusWarn
		doc.Output = "guards open or half-open: " + strings.Join(warning, ", ")
	}
	return doc
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
