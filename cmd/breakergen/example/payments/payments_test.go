package payments_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/cmd/breakergen/example/payments"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
)

var errDeclined = errors.New("provider: card declined")

// provider is an in-memory PaymentClient: it fails with fail when set,
// blocks until its context ends when block is set, and counts its calls.
type provider struct {
	fail  error
	block bool
	calls atomic.Int64
	// deadlines records, per blocking call, how far away the context's
	// deadline was.
	deadlines []time.Duration
}

func (p *provider) enter(ctx context.Context) error {
	p.calls.Add(1)
	if p.block {
		if d, ok := ctx.Deadline(); ok {
			p.deadlines = append(p.deadlines, time.Until(d))
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return p.fail
}

func (p *provider) Charge(ctx context.Context, customer string, amount int64) (payments.Receipt, error) {
	if err := p.enter(ctx); err != nil {
		return payments.Receipt{}, err
	}
	return payments.Receipt{ID: "r-" + customer, Amount: amount}, nil
}

func (p *provider) Refund(ctx context.Context, receiptID string) error { return p.enter(ctx) }

func (p *provider) Quote(ctx context.Context, amount int64) (int64, string, error) {
	if err := p.enter(ctx); err != nil {
		return 0, "", err
	}
	return amount / 100, "EUR", nil
}

func (p *provider) Status() (string, error) {
	if err := p.enter(context.Background()); err != nil {
		return "", err
	}
	return "ok", nil
}

func (p *provider) Ping(ctx context.Context) error { return p.enter(ctx) }

// newClient returns the decorator over p with a registry whose "payments"
// policy opens a breaker after three failures in a row, plus the
// generated policies wiring the "cached" fallback; causes receives what
// the fallback was called for.
func newClient(t testing.TB, p *provider, base core.Policy, causes *[]fallback.Cause) (*payments.GuardedPaymentClient, *core.Registry) {
	t.Helper()
	cached := func(_ context.Context, c fallback.Cause) (any, error) {
		*causes = append(*causes, c)
		return payments.Receipt{ID: "cached", Cached: true}, nil
	}
	reg, err := core.NewRegistry(
		core.WithFallback("cached", cached),
		core.WithPolicies(append([]core.Policy{base}, payments.GuardedPaymentClientPolicies()...)...),
	)
	if err != nil {
		t.Fatal(err)
	}
	c, err := payments.NewGuardedPaymentClient(p, reg)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

func basePolicy() core.Policy {
	return core.Policy{
		Name:    "payments",
		Match:   []string{"payments.*"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, OpenDuration: core.Duration(30 * time.Second)},
	}
}

func TestGuardedPaymentClientBreakerOpensAfterFailures(t *testing.T) {
	p := &provider{fail: errDeclined}
	var causes []fallback.Cause
	c, _ := newClient(t, p, basePolicy(), &causes)
	ctx := context.Background()
	for i := range 3 {
		if err := c.Refund(ctx, "r-1"); !errors.Is(err, errDeclined) {
			t.Fatalf("refund %d: err = %v, want the provider's error passed through", i+1, err)
		}
	}
	err := c.Refund(ctx, "r-1")
	if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, core.ErrRejected) {
		t.Fatalf("refund 4: err = %v, want the open breaker's rejection", err)
	}
	if n := p.calls.Load(); n != 3 {
		t.Fatalf("provider calls = %d, want 3 (the open breaker keeps the 4th away)", n)
	}
	// Each method has its own guard: Quote still reaches the provider.
	if _, _, err := c.Quote(ctx, 1000); !errors.Is(err, errDeclined) {
		t.Fatalf("quote: err = %v, want the provider's error", err)
	}
}

func TestGuardedPaymentClientFallbackAnswers(t *testing.T) {
	p := &provider{fail: errDeclined}
	var causes []fallback.Cause
	c, _ := newClient(t, p, basePolicy(), &causes)
	ctx := context.Background()
	for i := range 4 {
		r, err := c.Charge(ctx, "alice", 1200)
		if err != nil || !r.Cached {
			t.Fatalf("charge %d = %+v, %v; want the cached fallback's receipt", i+1, r, err)
		}
	}
	// Three failures reached the provider; the fourth call was rejected by
	// the breaker the charge guard inherits from "payments", and the
	// fallback answered that too.
	if n := p.calls.Load(); n != 3 {
		t.Fatalf("provider calls = %d, want 3", n)
	}
	want := []fallback.Kind{fallback.Failed, fallback.Failed, fallback.Failed, fallback.Rejected}
	if len(causes) != len(want) {
		t.Fatalf("fallback called %d times, want %d", len(causes), len(want))
	}
	for i, c := range causes {
		if c.Kind != want[i] {
			t.Errorf("fallback call %d: kind %v, want %v (err %v)", i+1, c.Kind, want[i], c.Err)
		}
	}
	if !errors.Is(causes[0].Err, errDeclined) {
		t.Errorf("fallback cause = %v, want the provider's error", causes[0].Err)
	}
}

func TestGuardedPaymentClientPassesResultsThrough(t *testing.T) {
	p := &provider{}
	var causes []fallback.Cause
	c, reg := newClient(t, p, basePolicy(), &causes)
	ctx := context.Background()
	r, err := c.Charge(ctx, "bob", 4200)
	if err != nil || r != (payments.Receipt{ID: "r-bob", Amount: 4200}) {
		t.Fatalf("charge = %+v, %v", r, err)
	}
	fee, cur, err := c.Quote(ctx, 4200)
	if err != nil || fee != 42 || cur != "EUR" {
		t.Fatalf("quote = %d, %q, %v; want 42, EUR", fee, cur, err)
	}
	if s, err := c.Status(); err != nil || s != "ok" {
		t.Fatalf("status = %q, %v", s, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	for _, name := range []string{"payments.charge", "payments.refund", "payments.quote", "payments.status"} {
		if _, ok := reg.Lookup(name); !ok {
			t.Errorf("guard %q was not created", name)
		}
	}
	if _, ok := reg.Lookup("payments.ping"); ok {
		t.Error("Ping is annotated skip, yet a guard payments.ping exists")
	}
	if g, _ := reg.Lookup("payments.quote"); g.Snapshot().Breaker.Succeeded != 1 {
		t.Errorf("payments.quote counted %+v, want one success", g.Snapshot())
	}
	if len(causes) != 0 {
		t.Errorf("fallback ran %d times on successful calls", len(causes))
	}
}

func TestGuardedPaymentClientTimeoutPerAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &provider{block: true}
		base := basePolicy()
		base.Retry = &core.RetryPolicy{MaxAttempts: 2, InitialDelay: core.Duration(100 * time.Millisecond), Jitter: "none"}
		var causes []fallback.Cause
		c, _ := newClient(t, p, base, &causes)
		start := time.Now()
		err := c.Refund(context.Background(), "r-1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("refund: err = %v, want the attempt timeout's DeadlineExceeded", err)
		}
		// Two attempts of 500ms each (timeout=500ms) and the 100ms delay.
		if got, want := time.Since(start), 1100*time.Millisecond; got != want {
			t.Fatalf("refund took %v of bubble time, want %v", got, want)
		}
		if len(p.deadlines) != 2 || p.deadlines[0] != 500*time.Millisecond || p.deadlines[1] != 500*time.Millisecond {
			t.Fatalf("attempt deadlines = %v, want [500ms 500ms]", p.deadlines)
		}

		// Charge (timeout=2s) times out too, and the fallback answers a
		// timeout.
		r, err := c.Charge(context.Background(), "carol", 100)
		if err != nil || !r.Cached {
			t.Fatalf("charge = %+v, %v; want the cached fallback's receipt", r, err)
		}
		if len(causes) != 1 || causes[0].Kind != fallback.TimedOut {
			t.Fatalf("fallback causes = %+v, want one timed_out", causes)
		}
		if p.deadlines[2] != 2*time.Second {
			t.Fatalf("charge attempt deadline = %v, want 2s", p.deadlines[2])
		}
	})
}

func TestGuardedPaymentClientCallerContextStillApplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &provider{block: true}
		var causes []fallback.Cause
		c, _ := newClient(t, p, basePolicy(), &causes)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := c.Refund(ctx, "r-1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("refund: err = %v", err)
		}
		if p.deadlines[0] != 100*time.Millisecond {
			t.Fatalf("deadline = %v, want the caller's 100ms (shorter than timeout=500ms)", p.deadlines[0])
		}
	})
}

func TestNewGuardedPaymentClientRefusesAPolicyWithoutTheFallback(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(basePolicy()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = payments.NewGuardedPaymentClient(&provider{}, reg)
	if err == nil || !strings.Contains(err.Error(), `guard "payments.charge" has policy "payments", which lists no fallback "cached"`) {
		t.Fatalf("err = %v, want the missing fallback named", err)
	}
}

func TestNewGuardedPaymentClientRefusesNil(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := payments.NewGuardedPaymentClient(nil, reg); err == nil {
		t.Fatal("nil inner: no error")
	}
	if _, err := payments.NewGuardedPaymentClient(&provider{}, nil); err == nil {
		t.Fatal("nil registry: no error")
	}
}

// A fallback may answer for a method that returns only an error: its value
// is ignored, and the method returns nil. Here the policy (not an
// annotation) names it.
func TestGuardedPaymentClientFallbackForAnErrorOnlyMethod(t *testing.T) {
	p := &provider{fail: errDeclined}
	var causes []fallback.Cause
	reg, err := core.NewRegistry(
		core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return payments.Receipt{Cached: true}, nil }),
		core.WithFallback("later", func(_ context.Context, c fallback.Cause) (any, error) {
			causes = append(causes, c)
			return nil, nil // queued for later, say
		}),
		core.WithPolicies(append([]core.Policy{basePolicy(), {Name: "payments.refund", Extends: "payments", Fallbacks: []core.FallbackRef{{Name: "later"}}}},
			payments.GuardedPaymentClientPolicies()...)...),
	)
	if err != nil {
		t.Fatal(err)
	}
	c, err := payments.NewGuardedPaymentClient(p, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refund(context.Background(), "r-1"); err != nil {
		t.Fatalf("refund: %v, want the fallback's nil", err)
	}
	if len(causes) != 1 || !errors.Is(causes[0].Err, errDeclined) {
		t.Fatalf("fallback causes = %+v", causes)
	}
}

// The decorator asks the registry for each call's guard (Registry.ForCall),
// so tenant overlays of a policy document apply to its calls: here the
// tenant "acme" trips after one failure, other callers after three.
func TestGuardedPaymentClientFollowsTenantOverlays(t *testing.T) {
	p := &provider{fail: errDeclined}
	reg, err := core.NewRegistry(core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return payments.Receipt{Cached: true}, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Apply(core.Document{
		Policies: append([]core.Policy{basePolicy()}, payments.GuardedPaymentClientPolicies()...),
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{{
			Tenant:   "acme",
			Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
		}}},
	}); err != nil {
		t.Fatal(err)
	}
	c, err := payments.NewGuardedPaymentClient(p, reg)
	if err != nil {
		t.Fatal(err)
	}
	acme := core.WithTenant(context.Background(), "acme")
	if err := c.Refund(acme, "r-1"); !errors.Is(err, errDeclined) {
		t.Fatalf("acme refund 1: %v", err)
	}
	if err := c.Refund(acme, "r-1"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("acme refund 2: %v, want the tenant's open breaker", err)
	}
	if err := c.Refund(context.Background(), "r-1"); !errors.Is(err, errDeclined) {
		t.Fatalf("refund without a tenant: %v, want the provider's error (its breaker is still closed)", err)
	}
	if _, ok := reg.Lookup(core.TenantGuardName("payments.refund", "acme")); !ok {
		t.Fatal("no tenant guard for acme")
	}
}
