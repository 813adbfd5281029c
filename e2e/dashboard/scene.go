// This file holds the scene: the registry, its policies, an hour of
// history and the load.

package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// WriteToken is the secret of the scene's write token, whose name (the
// actor in the audit log) is "alice".
const WriteToken = "e2e-alice-write-token-0123456789"

// Tripwire is the guard no load touches, for a test to trip: five failures
// in a row open it.
const Tripwire = "checkout.tripwire"

var errBoom = errors.New("dependency failed")

// Scene is an admin server (with the dashboard) over a registry of guards
// under synthetic load.
type Scene struct {
	Registry *core.Registry
	Admin    *admin.Server
	Server   *httptest.Server
	// URL is the dashboard's address, ending in "/".
	URL string

	guards []*guardLoad
	stop   chan struct{}
	wg     sync.WaitGroup
}

// guardLoad is the synthetic traffic of one guard.
type guardLoad struct {
	g *core.Guard
	// rate is calls per second; fail the share of calls that fail.
	rate, fail float64
	// phase shifts the guard's daily-looking wave.
	phase float64
	// hold is how long a held call takes (bulkhead and slow-call guards);
	// holders is how many goroutines hold calls.
	hold    time.Duration
	holders int
	acc     float64
}

// services and their operations name the guards, "payments.charge" and so
// on: ten services of twenty operations.
var services = []struct {
	name string
	ops  []string
}{
	{"payments", []string{"charge", "refund", "capture", "payout", "void", "dispute", "invoice", "subscription", "customer", "mandate", "balance", "transfer", "fee", "webhook", "token", "quote", "tax", "report", "reconcile", "statement"}},
	{"search", []string{"query", "suggest", "index", "reindex", "facets", "autocomplete", "spell", "geo", "rank", "feed", "similar", "trending", "synonyms", "export", "snapshot", "mapping", "health", "stats", "percolate", "scroll"}},
	{"inventory", []string{"lookup", "reserve", "release", "adjust", "count", "transfer", "sync", "warehouse", "restock", "allocate", "audit", "forecast", "replenish", "location", "batch", "import", "export", "hold", "recall", "catalog"}},
	{"shipping", []string{"rates", "label", "track", "pickup", "void", "address", "customs", "manifest", "returns", "eta", "carriers", "zones", "dimensions", "insure", "hazmat", "bulk", "webhook", "sla", "proof", "quote"}},
	{"users", []string{"get", "list", "create", "update", "delete", "history", "preferences", "avatar", "search", "merge", "export", "import", "verify", "roles", "groups", "invites", "sessions", "devices", "consent", "profile"}},
	{"email", []string{"send", "notify", "template", "bounce", "suppress", "digest", "campaign", "verify", "webhook", "schedule", "attach", "render", "opens", "clicks", "unsubscribe", "list", "segment", "preview", "test", "dkim"}},
	{"ledger", []string{"post", "export", "balance", "journal", "close", "accrual", "fx", "reconcile", "audit", "trial", "entries", "accounts", "reverse", "import", "statement", "adjust", "lock", "snapshot", "report", "hold"}},
	{"pricing", []string{"quote", "discount", "tax", "promo", "rules", "currency", "bundle", "tiers", "compare", "simulate", "override", "warm", "history", "margins", "index", "export", "import", "approve", "schedule", "rollback"}},
	{"recommendations", []string{"score", "similar", "trending", "personal", "bundle", "rerank", "embed", "feedback", "explain", "cold", "popular", "recent", "related", "upsell", "cross", "cart", "home", "email", "ads", "search"}},
	{"auth", []string{"token", "refresh", "introspect", "revoke", "jwks", "mfa", "reset", "sso", "saml", "oidc", "login", "logout", "session", "device", "risk", "captcha", "audit", "keys", "policy", "scopes"}},
}

func policies() []core.Policy {
	d := func(s string) core.Duration { v, _ := time.ParseDuration(s); return core.Duration(v) }
	return []core.Policy{
		{Name: "tripwire", Match: []string{Tripwire}, Tags: []string{"checkout"}, Critical: true,
			Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, OpenDuration: d("10m")}},
		{Name: "payments", Match: []string{"payments.*"}, Tags: []string{"payments", "stripe"}, Critical: true,
			Breaker:  &core.BreakerPolicy{WindowSize: 50, MinCalls: 20, FailureRate: 50, OpenDuration: d("20s")},
			Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8, MaxQueue: 8, MaxWait: d("30ms")}},
		{Name: "search", Match: []string{"search.*"}, Tags: []string{"search", "elastic"},
			Breaker:   &core.BreakerPolicy{WindowSize: 50, MinCalls: 10, SlowCallDuration: d("20ms"), SlowCallRate: 80},
			RateLimit: &core.RateLimitPolicy{Limit: 40, Burst: 10}},
		{Name: "inventory", Match: []string{"inventory.*"}, Tags: []string{"inventory", "postgres"},
			Breaker: &core.BreakerPolicy{Window: "time", WindowDuration: d("30s"), MinCalls: 10}},
		{Name: "shipping", Match: []string{"shipping.*"}, Tags: []string{"shipping", "fedex"},
			Breaker: &core.BreakerPolicy{WindowSize: 20, MinCalls: 10, OpenDuration: d("4s"), MaxOpenDuration: d("30s")}},
		{Name: "internal", Match: []string{"users.*", "auth.*", "ledger.*", "pricing.*"}, Tags: []string{"internal"},
			Breaker: &core.BreakerPolicy{ConsecutiveFailures: 20}},
		{Name: "vendors", Match: []string{"email.*", "recommendations.*"}, Tags: []string{"vendor"},
			RateLimit: &core.RateLimitPolicy{Limit: 600, Per: d("1m")}},
	}
}

// NewScene builds a registry of n guards (at most 200), an admin server
// pushing every push interval, an hour of history, and a server; it
// forces one guard open and disables another through the API, as an
// operator would. Close it when done.
func NewScene(n int, push time.Duration) (*Scene, error) {
	reg, err := core.NewRegistry(core.WithPolicies(policies()...))
	if err != nil {
		return nil, err
	}
	srv, err := admin.New(reg,
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithOpenRead(),
		admin.WithPushInterval(push),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, err
	}
	s := &Scene{Registry: reg, Admin: srv, stop: make(chan struct{})}
	rng := rand.New(rand.NewPCG(9, 9))
	names := []string{Tripwire}
	for i := 0; len(names) < n && i < 20; i++ {
		for _, sv := range services {
			if len(names) < n {
				names = append(names, sv.name+"."+sv.ops[i])
			}
		}
	}
	for _, name := range names {
		l := &guardLoad{g: reg.MustGuard(name), rate: 1 + 12*rng.Float64()*rng.Float64(), fail: 0.02 * rng.Float64(), phase: rng.Float64()}
		switch name {
		case Tripwire:
			l.rate, l.fail = 0, 0
		case "payments.capture":
			l.rate, l.fail = 25, 0.8 // an outage: it trips, and trips again after each probe
		case "shipping.label", "shipping.track":
			l.rate, l.fail = 15, 0.6
		case "inventory.reserve":
			l.fail = 0.35 // close to its threshold
		case "payments.charge":
			l.hold, l.holders = 60*time.Millisecond, 10 // more than the bulkhead admits
		case "payments.refund", "payments.payout":
			l.hold, l.holders = 10*time.Millisecond, 4
		case "search.query":
			l.rate = 60 // more than its rate limit
		case "search.suggest":
			l.hold, l.holders = 20*time.Millisecond, 2 // half the calls are slow
		}
		if l.holders > 0 {
			l.rate = float64(l.holders) / l.hold.Seconds() // for the history
		}
		s.guards = append(s.guards, l)
	}
	s.prefill(rng)
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	s.Server = httptest.NewServer(mux)
	s.URL = s.Server.URL + "/admin/"
	for _, op := range []struct{ op, guard, reason string }{
		{"open", "ledger.export", "vendor maintenance window 14:00-16:00 (CHG-2291)"},
		{"disable", "email.notify", "SMTP relay migration: keep admitting, alerts muted"},
		{"metrics-only", "recommendations.score", "new thresholds on trial"},
	} {
		if _, ok := reg.Lookup(op.guard); !ok {
			continue
		}
		if err := s.Operate(op.op, admin.OperationRequest{Name: op.guard, Reason: op.reason}, nil); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// prefill gives every guard an hour of traffic in the admin server's
// history, observed at explicit times (Server.SampleAt). The calls go to
// the breakers directly, so that the rate limits and bulkheads, which run
// on the real clock, do not see an hour of calls in a second.
func (s *Scene) prefill(rng *rand.Rand) {
	ctx := context.Background()
	end := time.Now().Truncate(admin.ShortRollup)
	n := int(admin.ShortHistory / admin.ShortRollup)
	start := end.Add(-time.Duration(n) * admin.ShortRollup)
	first := n - n/raceSlowdown // under the race detector, only the last part of the hour
	s.Admin.SampleAt(start.Add(time.Duration(first) * admin.ShortRollup))
	for k := first + 1; k <= n; k++ {
		for _, l := range s.guards {
			s.prefillSpan(ctx, l, k, n, float64(k)/float64(n), rng)
		}
		s.Admin.SampleAt(start.Add(time.Duration(k) * admin.ShortRollup))
	}
	// The history is in; the outage guards start afresh for the live load.
	for _, l := range s.guards {
		l.g.Reset(breaker.Manual{Actor: "e2e", Reason: "end of the simulated hour"})
	}
}

// prefillSpan makes a guard's calls of span k of n (x = k/n): a wave, some
// noise and, for a few, a blip half an hour ago or an outage starting.
func (s *Scene) prefillSpan(ctx context.Context, l *guardLoad, k, n int, x float64, rng *rand.Rand) {
	if l.rate == 0 {
		return
	}
	per := l.rate * 10 * (1 + 0.35*math.Sin(2*math.Pi*(x+l.phase))) * (0.8 + 0.4*rng.Float64())
	fail := l.fail
	if l.fail > 0.3 {
		fail = 0.04
		if k > n-40 {
			fail = 0.45 // the outage starts
		}
	}
	if l.phase < 0.1 && k > n/2 && k < n/2+15 {
		fail, per = 0.12, per*1.8
	}
	b := l.g.Breaker()
	for range int(per) {
		p, err := b.Allow(ctx)
		if err != nil {
			continue
		}
		if rng.Float64() < fail {
			p.Done(errBoom)
		} else {
			p.Done(nil)
		}
	}
}

// StartLoad runs the synthetic load until Close.
func (s *Scene) StartLoad() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.tickLoad()
	}()
	for _, l := range s.guards {
		for i := range l.holders {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.hold(l, i)
			}()
		}
	}
}

// tickLoad makes every guard's calls, 20 times a second.
func (s *Scene) tickLoad() {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, l := range s.guards {
			if l.holders > 0 {
				continue
			}
			l.acc += l.rate / 20
			for ; l.acc >= 1; l.acc-- {
				p, err := l.g.Allow(ctx)
				if err != nil {
					continue
				}
				if rng.Float64() < l.fail {
					p.Done(errBoom)
				} else {
					p.Done(nil)
				}
			}
		}
	}
}

// hold makes calls that take a while, so that bulkheads fill up and calls
// are slow.
func (s *Scene) hold(l *guardLoad, i int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		p, err := l.g.Allow(ctx)
		d := l.hold/2 + time.Duration(rng.Int64N(int64(l.hold)))
		if err != nil {
			d = l.hold
		}
		select {
		case <-s.stop:
			if err == nil {
				p.Done(nil)
			}
			return
		case <-time.After(d):
		}
		if err == nil {
			p.Done(nil)
		}
	}
}

// Operate posts an operation to the admin API with the write token and
// decodes the result into res (if not nil).
func (s *Scene) Operate(op string, req admin.OperationRequest, res *admin.OperationResult) error {
	body, _ := json.Marshal(req)
	if res == nil {
		return s.call(http.MethodPost, "v1/operations/"+op, body, nil)
	}
	return s.call(http.MethodPost, "v1/operations/"+op, body, res)
}

// Audit reads the audit log.
func (s *Scene) Audit() (admin.AuditPage, error) {
	var p admin.AuditPage
	err := s.call(http.MethodGet, "v1/audit?limit=1000", nil, &p)
	return p, err
}

func (s *Scene) call(method, path string, body []byte, out any) error {
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+WriteToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.Server.Client().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Close stops the load, the server and the admin server's sampler.
func (s *Scene) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	if s.Server != nil {
		s.Server.Close()
	}
	_ = s.Admin.Close()
}
