package datadog_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/exporters/datadog"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// apiPolicy has every gate Allow passes: a rate limit of 6 calls per hour,
// a bulkhead of one slot and no queue, and a breaker that opens after 2
// consecutive failures.
var apiPolicy = core.Policy{
	Name:      "api",
	Match:     []string{"api.*"},
	Tags:      []string{"stripe"},
	Breaker:   &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true},
	Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 1},
	RateLimit: &core.RateLimitPolicy{Limit: 6, Per: core.Duration(time.Hour), Burst: 6, Precise: true},
}

// driveAPI runs a known sequence through the guard api.charge: one
// success, one bulkhead rejection, one ignored call, two failures (which
// open the breaker), one breaker rejection and one rate-limit rejection.
func driveAPI(t *testing.T, reg *core.Registry) {
	t.Helper()
	ctx := context.Background()
	g := reg.MustGuard("api.charge")
	allow := func(want error) *core.Permit {
		t.Helper()
		p, err := g.Allow(ctx)
		if !errors.Is(err, want) {
			t.Fatalf("Allow: got %v, want %v", err, want)
		}
		return &p
	}
	held := allow(nil)
	allow(bulkhead.ErrFull)
	held.Done(nil)
	allow(nil).Done(context.Canceled)
	allow(nil).Done(errors.New("boom"))
	allow(nil).Done(errors.New("boom"))
	allow(breaker.ErrOpen)
	allow(ratelimit.ErrLimited)
}

var apiTags = []string{"guard:api.charge", "policy:api"}

func tags(extra ...string) []string { return append(append([]string(nil), apiTags...), extra...) }

// Everything one push sends, decoded from the datagrams a real statsd
// client sent to a UDP socket.
func TestFlushSendsMetricsChecksAndEvents(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t, core.WithPolicies(apiPolicy))
	exp := datadog.New(reg, a.client, datadog.WithTags("env:test"))
	defer exp.Close()
	driveAPI(t, reg)
	got := a.flush(t, exp)

	for outcome, want := range map[string]int{"success": 1, "failure": 2, "ignored": 1, "rejected": 1} {
		if n := got.count(t, datadog.MetricBreakerCalls, tags("outcome:"+outcome, "env:test")...); n != want {
			t.Errorf("calls outcome:%s = %d, want %d", outcome, n, want)
		}
	}
	for reason, want := range map[string]int{"circuit_open": 1, "bulkhead_full": 1, "rate_limited": 1, "circuit_half_open": 0} {
		if n := got.count(t, datadog.MetricGuardRejections, tags("reason:"+reason)...); n != want {
			t.Errorf("rejections reason:%s = %d, want %d", reason, n, want)
		}
	}
	if n := got.count(t, datadog.MetricBreakerTransitions, apiTags...); n != 1 {
		t.Errorf("transitions %d", n)
	}
	if n := got.count(t, datadog.MetricRateLimiterCalls, tags("outcome:permitted")...); n != 6 {
		t.Errorf("rate limiter permitted %d", n)
	}
	if n := got.count(t, datadog.MetricBulkheadCalls, tags("outcome:rejected")...); n != 1 {
		t.Errorf("bulkhead rejected %d", n)
	}
	for _, st := range []string{"closed", "open", "half-open", "forced-open", "disabled", "metrics-only"} {
		want := 0.0
		if st == "open" {
			want = 1
		}
		if v := got.gauge(t, datadog.MetricBreakerStatus, tags("state:"+st)...); v != want {
			t.Errorf("status state:%s = %v, want %v", st, v, want)
		}
	}
	if v := got.gauge(t, datadog.MetricBulkheadLimit, apiTags...); v != 1 {
		t.Errorf("bulkhead limit %v", v)
	}

	// The transition as an event, and the service check: critical, both
	// from the event and from the push.
	ev := got.one(t, "e", "Circuit breaker api.charge is open", tags("state:open", "previous_state:closed", "env:test")...)
	if ev.fields["t"] != "error" || ev.fields["k"] != "breakerbox:api.charge" || ev.fields["d"] == "" {
		t.Errorf("event fields %v", ev.fields)
	}
	if ev.value == "" {
		t.Error("event has no text")
	}
	checks := got.find("sc", datadog.DefaultServiceCheck, tags("env:test")...)
	if len(checks) != 2 {
		t.Fatalf("%d service checks, want 2 (event, push):\n%s", len(checks), got)
	}
	for _, sc := range checks {
		if sc.value != strconv.Itoa(int(statsd.Critical)) || sc.fields["m"] == "" {
			t.Errorf("service check %v", sc)
		}
	}
}

// Counts are the increase since the previous push, and nothing is sent for
// a counter that did not move.
func TestCountsAreDeltas(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t)
	exp := datadog.New(reg, a.client)
	defer exp.Close()
	g := reg.MustGuard("inventory")
	ok := func(context.Context) error { return nil }
	tg := []string{"guard:inventory", "policy:default", "outcome:success"}

	_ = g.Do(context.Background(), ok)
	_ = g.Do(context.Background(), ok)
	if n := a.flush(t, exp).count(t, datadog.MetricBreakerCalls, tg...); n != 2 {
		t.Fatalf("first push: %d successes, want 2", n)
	}
	got := a.flush(t, exp)
	if p := got.find("c", datadog.MetricBreakerCalls, tg...); len(p) != 0 {
		t.Fatalf("second push with no calls sent %v", p)
	}
	if len(got.find("sc", datadog.DefaultServiceCheck, "guard:inventory")) != 1 {
		t.Fatal("every push sends the service check")
	}
	for range 3 {
		_ = g.Do(context.Background(), ok)
	}
	if n := a.flush(t, exp).count(t, datadog.MetricBreakerCalls, tg...); n != 3 {
		t.Fatalf("third push: %d successes, want 3", n)
	}
}

// The service check follows the breaker: OK closed, CRITICAL forced open,
// OK again once released.
func TestServiceCheckFollowsState(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t)
	exp := datadog.New(reg, a.client)
	defer exp.Close()
	g := reg.MustGuard("db")
	status := func() string {
		t.Helper()
		return a.flush(t, exp).find("sc", datadog.DefaultServiceCheck, "guard:db")[0].value
	}
	if s := status(); s != "0" {
		t.Fatalf("closed: status %s", s)
	}
	g.ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})
	got := a.flush(t, exp)
	for _, sc := range got.find("sc", datadog.DefaultServiceCheck, "guard:db") {
		if sc.value != "2" || sc.fields["m"] != "circuit breaker forced-open: maintenance (by alice)" {
			t.Fatalf("forced open: %v", sc)
		}
	}
	ev := got.one(t, "e", "Circuit breaker db is forced-open")
	if ev.value != "closed -> forced-open: maintenance (by alice)" {
		t.Fatalf("event text %q", ev.value)
	}
	g.Release(breaker.Manual{Actor: "alice", Reason: "done"})
	if s := status(); s != "0" {
		t.Fatalf("released: status %s", s)
	}
}

func TestServiceCheckStatus(t *testing.T) {
	want := map[breaker.State]statsd.ServiceCheckStatus{
		breaker.Closed: statsd.Ok, breaker.HalfOpen: statsd.Warn, breaker.Open: statsd.Critical,
		breaker.ForcedOpen: statsd.Critical, breaker.Disabled: statsd.Ok, breaker.MetricsOnly: statsd.Ok,
	}
	for s, w := range want {
		if got := datadog.ServiceCheckStatus(s); got != w {
			t.Errorf("%v: %v, want %v", s, got, w)
		}
	}
}

// Guard names and tags cannot break the datagram.
func TestTagsAreSanitised(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "p", Match: []string{"*"}, Tags: []string{"x,y"}}))
	exp := datadog.New(reg, a.client, datadog.WithGuardTags(), datadog.WithTags("team:a|b"))
	defer exp.Close()
	reg.MustGuard("a,b|c\nd")
	got := a.flush(t, exp)
	got.one(t, "sc", datadog.DefaultServiceCheck, "guard:a_b_c_d", "policy:p", "group:x_y", "team:a_b")
}

// With WithCallDuration every admitted call sends its duration as a
// distribution tagged with its outcome.
func TestCallDuration(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t)
	exp := datadog.New(reg, a.client, datadog.WithCallDuration())
	defer exp.Close()
	g := reg.MustGuard("search")
	_ = g.Do(context.Background(), func(context.Context) error { return nil })
	_ = g.Do(context.Background(), func(context.Context) error { return errors.New("x") })
	got := a.flush(t, exp)
	for _, outcome := range []string{"success", "failure"} {
		d := got.one(t, "d", datadog.MetricCallDuration, "guard:search", "policy:default", "outcome:"+outcome)
		if v, err := strconv.ParseFloat(d.value, 64); err != nil || v < 0 {
			t.Errorf("duration %q: %v", d.value, err)
		}
	}
}

// The loop pushes every interval and sends events as they come, without
// waiting for the next push (testing/synctest: time is fake).
func TestStartPushesOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		reg := newRegistry(t)
		exp := datadog.New(reg, rec, datadog.WithInterval(30*time.Second))
		ctx, cancel := context.WithCancel(context.Background())
		exp.Start(ctx)
		exp.Start(ctx) // a second Start does nothing

		g := reg.MustGuard("inventory")
		_ = g.Do(ctx, func(context.Context) error { return nil })
		synctest.Wait()
		if n := rec.numChecks(); n != 0 {
			t.Fatalf("%d service checks before the first interval", n)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := rec.count(datadog.MetricBreakerCalls, "guard:inventory", "policy:default", "outcome:success"); n != 1 {
			t.Fatalf("after one interval: %d successes counted", n)
		}

		g.ForceOpen(breaker.Manual{Reason: "test"})
		synctest.Wait()
		if n := rec.numEvents(); n != 1 {
			t.Fatalf("%d events right after the change, want 1", n)
		}

		_ = g.Do(ctx, func(context.Context) error { return nil }) // rejected
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := rec.count(datadog.MetricBreakerCalls, "guard:inventory", "policy:default", "outcome:rejected"); n != 1 {
			t.Fatalf("after two intervals: %d rejections counted", n)
		}

		cancel() // ends the loop; Close still flushes
		synctest.Wait()
		checks := rec.numChecks()
		if err := exp.Close(); err != nil {
			t.Fatal(err)
		}
		if rec.numChecks() != checks+1 {
			t.Fatal("Close did not push")
		}
	})
}

// A client that blocks (a stuck socket) never holds up the calls that
// change state: the hook only queues, and drops when the queue is full.
func TestStateChangesNeverBlockCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		rec.block = make(chan struct{})
		reg := newRegistry(t)
		exp := datadog.New(reg, rec, datadog.WithEventQueue(4))
		exp.Start(context.Background())
		g := reg.MustGuard("db")

		const changes = 50
		m := breaker.Manual{Actor: "test"}
		// The first change is taken by the exporter, which then blocks in
		// the client.
		g.ForceOpen(m)
		synctest.Wait()
		var release sync.Once
		defer release.Do(func() { close(rec.block) })
		for i := 1; i < changes; i++ {
			if i%2 == 1 { // each is a state change, on this goroutine
				g.Release(m)
			} else {
				g.ForceOpen(m)
			}
		}
		// Every change returned at once: four wait in the queue, and the
		// rest were dropped.
		if d := exp.Dropped(); d != changes-1-4 {
			t.Fatalf("dropped %d, want %d", d, changes-1-4)
		}

		release.Do(func() { close(rec.block) })
		if err := exp.Close(); err != nil {
			t.Fatal(err)
		}
		if n := rec.numEvents(); n != 5 {
			t.Fatalf("%d events sent, want 5", n)
		}
		if n := rec.count(datadog.MetricEventsDropped); n != changes-5 {
			t.Fatalf("events_dropped count %d, want %d", n, changes-5)
		}
	})
}

// After Close the hooks do nothing and Start does not start.
func TestClose(t *testing.T) {
	rec := newRecorder()
	reg := newRegistry(t)
	exp := datadog.New(reg, rec)
	if err := exp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := exp.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	exp.Start(context.Background())
	reg.MustGuard("x").ForceOpen(breaker.Manual{})
	if err := exp.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := rec.numEvents(); n != 0 || exp.Dropped() != 0 {
		t.Fatalf("%d events, %d dropped after Close", n, exp.Dropped())
	}
}

// With no agent listening, nothing blocks: calls, state changes, pushes and
// Close all return.
func TestAgentAbsent(t *testing.T) {
	// A port that was free a moment ago: nobody listens on it.
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	conn.Close()
	client, err := statsd.New(addr, statsd.WithoutTelemetry())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "p", Match: []string{"*"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}}))
	exp := datadog.New(reg, client, datadog.WithCallDuration(), datadog.WithInterval(time.Millisecond))
	exp.Start(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			g := reg.MustGuard("dep-" + strconv.Itoa(w))
			for i := range 200 {
				_ = g.Do(context.Background(), func(context.Context) error {
					if i%50 == 49 {
						return errors.New("down")
					}
					return nil
				})
				if i%50 == 49 {
					g.Reset(breaker.Manual{})
				}
			}
		})
	}
	wg.Wait()
	for range 3 {
		_ = exp.Flush() // errors allowed (connection refused), blocking not
	}
	_ = exp.Close()
}

// The bulkhead's queue wait is sent as the mean wait of the calls that
// queued since the previous push (synctest: the wait is exact).
func TestBulkheadWaitTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "q", Match: []string{"*"},
			Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 2}}))
		exp := datadog.New(reg, rec)
		defer exp.Close()
		g := reg.MustGuard("db")
		ctx := context.Background()

		held, err := g.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				p, err := g.Allow(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Second) // holds the slot 1s
				p.Done(nil)
			})
		}
		synctest.Wait() // both queued
		time.Sleep(2 * time.Second)
		held.Done(nil) // first waiter waited 2s, the second 3s
		wg.Wait()
		if err := exp.Flush(); err != nil {
			t.Fatal(err)
		}
		tg := []string{"guard:db", "policy:q"}
		if n := rec.count(datadog.MetricBulkheadCalls, append(tg, "outcome:waited")...); n != 2 {
			t.Fatalf("queue waits %d, want 2", n)
		}
		if v := rec.gauge(datadog.MetricBulkheadQueueWaitTime, tg...); v != 2.5 {
			t.Fatalf("mean wait %vs, want 2.5s", v)
		}
	})
}

// Exporting adds nothing to an admitted call; WithCallDuration adds the
// client's Distribution, with tags built once per guard.
func TestCallAllocations(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []datadog.Option
		max  float64
	}{{"exporter", nil, 0}, {"call duration", []datadog.Option{datadog.WithCallDuration()}, 0}} {
		a := newAgent(t)
		reg := newRegistry(t)
		exp := datadog.New(reg, a.client, c.opts...)
		g := reg.MustGuard("hot")
		ctx := context.Background()
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := g.Allow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(nil)
		})
		if allocs > c.max {
			t.Errorf("%s: an admitted call allocates %v times, want at most %v", c.name, allocs, c.max)
		}
		_ = exp.Close()
	}
}

// Retries and fallbacks are counted from the guard's snapshot.
func TestRetriesAndFallbacks(t *testing.T) {
	rec := newRecorder()
	reg := newRegistry(t,
		core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return struct{}{}, nil }),
		core.WithPolicies(core.Policy{Name: "r", Match: []string{"*"},
			Retry:     &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(time.Microsecond), Jitter: "none"},
			Fallbacks: []core.FallbackRef{{Name: "cached"}}}))
	exp := datadog.New(reg, rec)
	defer exp.Close()
	if err := reg.MustGuard("flaky").Do(context.Background(), func(context.Context) error { return errors.New("x") }); err != nil {
		t.Fatalf("the fallback should have answered: %v", err)
	}
	if err := exp.Flush(); err != nil {
		t.Fatal(err)
	}
	tg := []string{"guard:flaky", "policy:r"}
	if n := rec.count(datadog.MetricRetryRetries, tg...); n != 2 {
		t.Errorf("retries %d, want 2", n)
	}
	if n := rec.count(datadog.MetricFallbackCalls, append(tg, "outcome:served")...); n != 1 {
		t.Errorf("fallbacks served %d, want 1", n)
	}
	if n := rec.count(datadog.MetricBreakerCalls, append(tg, "outcome:failure")...); n != 3 {
		t.Errorf("failures %d, want 3", n)
	}
}
