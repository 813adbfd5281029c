package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// scaleRegistry returns a registry of n guards, the first critical of them
// critical (policy "crit", named crit-NNNNN), the others plain
// (guard-NNNNN).
func scaleRegistry(tb testing.TB, n, critical int) *core.Registry {
	tb.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "crit", Critical: true}))
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if i < critical {
			reg.MustGuard(fmt.Sprintf("crit-%05d", i), core.UsePolicy("crit"))
		} else {
			reg.MustGuard(fmt.Sprintf("guard-%05d", i))
		}
	}
	return reg
}

// frozenHealth returns reg's health handler with its clock stopped at
// now, so that its list of guards is refreshed only when the test moves
// the clock.
func frozenHealth(reg *core.Registry, now *time.Time, opts ...Option) *healthHandler {
	h := HealthHandler(reg, opts...).(*healthHandler)
	h.now = func() time.Time { return *now }
	return h
}

func getHealth(t *testing.T, ts *httptest.Server, path string, want int) (Health, string) {
	t.Helper()
	res, err := ts.Client().Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	if _, err := fmt.Fprint(&b, readAll(t, res)); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s: %d, want %d: %s", path, res.StatusCode, want, b.String())
	}
	var h Health
	if err := jsonUnmarshal([]byte(b.String()), &h); err != nil {
		t.Fatalf("%s: %v: %s", path, err, b.String())
	}
	return h, b.String()
}

// allocBytesPerRun is testing.AllocsPerRun for bytes: the bytes f
// allocates a run, on average over runs.
func allocBytesPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // warm up
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.TotalAlloc-m0.TotalAlloc) / float64(runs)
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// Bug: every unauthenticated /health and /ready request snapshotted every
// guard and listed each one (about 0.9 s, 73 MB allocated and an 8.5 MB
// answer per /health at 50,000 guards). Now a request reads the critical
// guards and at most MaxHealthChecks others: from 300 to 2,400 guards,
// neither its allocations nor its answer grow (the bytes allocated are
// compared with slack for sync.Pool refills; the old code's grew 8-fold).
func TestHealthCostDoesNotGrowWithGuards(t *testing.T) {
	type cost struct {
		allocs, bytes float64
		size          int
	}
	measure := func(n int, path string) cost {
		reg := scaleRegistry(t, n, 5)
		reg.MustGuard("crit-00001").ForceOpen(breaker.Manual{Actor: "ops", Reason: "drill"})
		for i := 5; i < 300; i += 2 { // many non-critical guards open
			reg.MustGuard(fmt.Sprintf("guard-%05d", i)).ForceOpen(breaker.Manual{Actor: "ops", Reason: "drill"})
		}
		now := time.Now()
		h := frozenHealth(reg, &now)
		ts := newServer(t, h)
		doc, body := getHealth(t, ts, path, http.StatusServiceUnavailable)
		if doc.Status != StatusFail || !strings.Contains(doc.Output, "crit-00001") {
			t.Fatalf("%d guards, %s: %.500s", n, path, body)
		}
		if len(doc.Checks) > MaxHealthChecks {
			t.Errorf("%d guards, %s: %d checks", n, path, len(doc.Checks))
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		serve := func() { h.ServeHTTP(httptest.NewRecorder(), req) }
		return cost{allocs: testing.AllocsPerRun(20, serve), bytes: allocBytesPerRun(50, serve), size: len(body)}
	}
	for _, path := range []string{"/health", "/ready"} {
		small, large := measure(300, path), measure(2400, path)
		t.Logf("%s: %+v at 300 guards, %+v at 2,400", path, small, large)
		if large.allocs > small.allocs+10 || large.bytes > 2*small.bytes || large.size > small.size+100 {
			t.Errorf("%s costs more with more guards: %+v at 300, %+v at 2,400", path, small, large)
		}
	}
}

// Bug: /health gave, unauthenticated, the operator's reason for a manual
// state as a check's output. Now it says only that an operator set it.
func TestHealthHidesOperatorReasons(t *testing.T) {
	a := newTestAPI(t)
	const reason = "failover to the DR site, ticket OPS-4242"
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "payments.charge", Reason: reason}).ok(t, nil)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: reason}).ok(t, nil)
	for _, path := range []string{"/health", "/ready"} {
		r := a.do(http.MethodGet, path, "", nil)
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		if strings.Contains(string(r.body), "OPS-4242") || strings.Contains(string(r.body), "alice") {
			t.Errorf("%s tells the operator's reason or name: %s", path, r.body)
		}
		var h Health
		if err := jsonUnmarshal(r.body, &h); err != nil {
			t.Fatal(err)
		}
		if c := h.Checks["payments.charge:circuitBreaker"]; len(c) != 1 || c[0].Output != "set by an operator" || c[0].Status != StatusFail {
			t.Errorf("%s: check %+v", path, c)
		}
	}
}

// With WithHealthSummary the documents carry a status and counts, and no
// guard's name.
func TestHealthSummary(t *testing.T) {
	reg := testRegistry(t)
	ts := newServer(t, HealthHandler(reg, WithHealthSummary()))
	h, _ := getHealth(t, ts, "/health", http.StatusOK)
	if h.Status != StatusPass || h.Checks != nil || h.Output != "" {
		t.Fatalf("all closed: %+v", h)
	}
	reg.MustGuard("payments.charge").ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
	reg.MustGuard("search").ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
	h, body := getHealth(t, ts, "/health", http.StatusServiceUnavailable)
	if h.Status != StatusFail || h.Checks != nil || h.Output != "1 critical guards open" || strings.Contains(body, "payments") {
		t.Fatalf("critical open: %s", body)
	}
	reg.MustGuard("payments.charge").Release(breaker.Manual{Actor: "t", Reason: "r"})
	if h, body = getHealth(t, ts, "/health", http.StatusOK); h.Status != StatusWarn || h.Output != "1 guards open or half-open" || strings.Contains(body, "search") {
		t.Fatalf("non-critical open: %s", body)
	}
	if h, body = getHealth(t, ts, "/ready", http.StatusOK); h.Status != StatusPass || h.Checks != nil {
		t.Fatalf("ready: %s", body)
	}
}

// A document lists at most MaxHealthChecks checks, failing and warning
// guards first, and names at most a few guards in its output.
func TestHealthListsAtMostMaxChecks(t *testing.T) {
	reg := scaleRegistry(t, 400, 3)
	for i := 3; i < 400; i += 2 {
		reg.MustGuard(fmt.Sprintf("guard-%05d", i)).ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
	}
	ts := newServer(t, HealthHandler(reg))
	h, body := getHealth(t, ts, "/health", http.StatusOK)
	if h.Status != StatusWarn || len(h.Checks) != MaxHealthChecks {
		t.Fatalf("%d checks: %.300s", len(h.Checks), body)
	}
	for i := range 3 {
		if c := h.Checks[fmt.Sprintf("crit-%05d:circuitBreaker", i)]; len(c) != 1 || !c[0].Critical {
			t.Errorf("critical guard %d not listed: %v", i, c)
		}
	}
	for k, c := range h.Checks {
		if !c[0].Critical && c[0].Status != StatusWarn {
			t.Errorf("%s listed before a warning guard: %+v", k, c[0])
		}
	}
	if want := "guards open or half-open: guard-00003, guard-00005, "; !strings.HasPrefix(h.Output, want) || !strings.HasSuffix(h.Output, " and 189 more") {
		t.Errorf("output %q", h.Output)
	}
}

// The health endpoints learn of a critical guard created after their last
// look: a Server's at the guard's first state change, a HealthHandler's at
// its next refresh, which a request makes itself once the list is older
// than healthMaxAge.
func TestHealthLearnsNewCriticalGuards(t *testing.T) {
	t.Run("Server", func(t *testing.T) {
		a := newTestAPI(t)
		if r := a.do(http.MethodGet, "/ready", "", nil); r.status != http.StatusOK {
			t.Fatalf("ready: %d %s", r.status, r.body)
		}
		a.reg.MustGuard("payments.capture", core.UsePolicy("critical-payments")).ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
		if r := a.do(http.MethodGet, "/ready", "", nil); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "payments.capture") {
			t.Fatalf("ready with a new critical guard open: %d %s", r.status, r.body)
		}
	})
	t.Run("HealthHandler", func(t *testing.T) {
		reg := testRegistry(t)
		now := time.Now()
		ts := newServer(t, frozenHealth(reg, &now))
		getHealth(t, ts, "/ready", http.StatusOK)
		reg.MustGuard("payments.capture", core.UsePolicy("critical-payments")).ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
		now = now.Add(healthMaxAge)
		if h, body := getHealth(t, ts, "/ready", http.StatusServiceUnavailable); !strings.Contains(h.Output, "payments.capture") {
			t.Fatalf("ready: %s", body)
		}
	})
}
