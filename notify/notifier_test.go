package notify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// recorder is a channel that records what it is sent, and when.
type recorder struct {
	mu   sync.Mutex
	evs  []Event
	at   []time.Time
	fail func(n int, e *Event) error // n counts calls, from 1
	n    int
}

func (r *recorder) Send(ctx context.Context, e *Event) error {
	r.mu.Lock()
	r.n++
	n := r.n
	f := r.fail
	r.mu.Unlock()
	if f != nil {
		if err := f(n, e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, *e)
	r.at = append(r.at, time.Now())
	return nil
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

func (r *recorder) kinds() string {
	var s []string
	for _, e := range r.events() {
		s = append(s, e.Guard+":"+string(e.Type))
	}
	return strings.Join(s, " ")
}

// deadLetters collects dead letters.
type deadLetters struct {
	mu sync.Mutex
	ds []DeadLetter
}

func (d *deadLetters) DeadLetter(x DeadLetter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ds = append(d.ds, x)
}

func (d *deadLetters) all() []DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]DeadLetter(nil), d.ds...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var noLimit = RateLimit(ratelimit.Config{})

// tripPolicy opens after two consecutive failures for 10s, doubling.
var tripPolicy = core.Policy{
	Name:    "trip",
	Match:   []string{"*"},
	Tags:    []string{"team-a"},
	Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true, OpenDuration: core.Duration(10 * time.Second)},
}

var errDown = errors.New("dependency down")

func fail(g *core.Guard, n int) {
	for range n {
		_ = g.Do(context.Background(), func(context.Context) error { return errDown })
	}
}

func succeed(g *core.Guard) {
	_ = g.Do(context.Background(), func(context.Context) error { return nil })
}

func newTestRegistry(t *testing.T) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(tripPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// start starts n and closes it when the test ends (inside the bubble for
// synctest tests), so that a failing test leaves no goroutine behind.
func start(t *testing.T, n *Notifier) {
	t.Helper()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
}

func closeNow(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestMinOpenWithRealBreaker runs the whole pipeline in a synctest bubble:
// a real breaker trips and recovers on its own timer; an incident shorter
// than MinOpen sends nothing, a longer one sends opened then resolved.
func TestMinOpenWithRealBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		rec := &recorder{}
		n, err := New(reg,
			WithRules(Rule{Name: "oncall", Tags: []string{"team-a"}, MinOpen: core.Duration(30 * time.Second)}),
			WithChannel("rec", rec, noLimit),
			WithDashboardURL("https://ops.example.com/bbx/?guard={guard}"),
			WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		start(t, n)
		g := reg.MustGuard("payments charge")

		// Short incident: open 10s, probe succeeds.
		fail(g, 2)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := g.Breaker().State(); st != breaker.HalfOpen {
			t.Fatalf("state = %v, want half-open", st)
		}
		succeed(g)
		time.Sleep(time.Minute)
		synctest.Wait()
		if k := rec.kinds(); k != "" {
			t.Fatalf("short incident sent %q", k)
		}
		if s := n.Stats(); s.Short != 1 {
			t.Fatalf("Short = %d, want 1", s.Short)
		}

		// Long incident: probes fail at 10s and 30s (open 10s, then 20s).
		begin := time.Now()
		fail(g, 2)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := g.Breaker().State(); st != breaker.HalfOpen {
			t.Fatalf("state = %v, want half-open", st)
		}
		fail(g, 1) // probe fails: reopen for 20s
		time.Sleep(19 * time.Second)
		synctest.Wait()
		if k := rec.kinds(); k != "" {
			t.Fatalf("sent %q before MinOpen", k)
		}
		if s := n.Stats(); s.Held != 1 {
			t.Fatalf("Held = %d, want 1", s.Held)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if k := rec.kinds(); k != "payments charge:opened" {
			t.Fatalf("after MinOpen got %q", k)
		}
		time.Sleep(time.Second) // half-open at 30s
		succeed(g)
		synctest.Wait()
		if k := rec.kinds(); k != "payments charge:opened payments charge:resolved" {
			t.Fatalf("got %q", k)
		}
		evs := rec.events()
		o, r := evs[0], evs[1]
		if !o.At.Equal(begin) || o.Suppressed != 2 || o.Rule != "oncall" {
			t.Errorf("opened = at %v (want %v), suppressed %d (want 2: half-open, reopen), rule %q", o.At, begin, o.Suppressed, o.Rule)
		}
		if o.DashboardURL != "https://ops.example.com/bbx/?guard=payments%20charge" {
			t.Errorf("dashboard url %q", o.DashboardURL)
		}
		if len(o.Tags) != 1 || o.Tags[0] != "team-a" {
			t.Errorf("tags %v", o.Tags)
		}
		if time.Duration(r.IncidentDuration) != 31*time.Second || r.IncidentID != o.IncidentID {
			t.Errorf("resolved: duration %v, incident %q vs %q", time.Duration(r.IncidentDuration), r.IncidentID, o.IncidentID)
		}
		if r.Sequence <= o.Sequence {
			t.Errorf("sequence %d then %d", o.Sequence, r.Sequence)
		}
		closeNow(t, n)
	})
}

// TestRetriesAndDeadLetters checks backoff retries, a delivery after
// failures, the dead letter after the last attempt, and permanent errors.
func TestRetriesAndDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		flaky := &recorder{fail: func(n int, _ *Event) error {
			if n <= 2 {
				return errors.New("503")
			}
			return nil
		}}
		down := &recorder{fail: func(int, *Event) error { return errors.New("connection refused") }}
		refused := &recorder{fail: func(int, *Event) error { return Permanent(errors.New("400 bad request")) }}
		dl := &deadLetters{}
		sched := Retries(retry.Config{MaxAttempts: 4, InitialDelay: time.Second, MaxDelay: 10 * time.Second, Jitter: retry.NoJitter})
		n, err := New(reg,
			WithChannel("flaky", flaky, noLimit, sched),
			WithChannel("down", down, noLimit, sched),
			WithChannel("refused", refused, noLimit, sched),
			WithDeadLetters(dl))
		if err != nil {
			t.Fatal(err)
		}
		start(t, n)
		begin := time.Now()
		if _, err := reg.ForceOpen(core.Name(reg.MustGuard("db").Name()), breaker.Manual{Actor: "alice", Reason: "maintenance"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()

		if evs := flaky.events(); len(evs) != 1 || evs[0].Type != ForcedOpen || evs[0].Actor != "alice" {
			t.Fatalf("flaky got %+v", evs)
		}
		// NoJitter: retries after 1s and 2s.
		if d := flaky.at[0].Sub(begin); d != 3*time.Second {
			t.Errorf("delivered after %v, want 3s (1s + 2s backoff)", d)
		}
		ds := dl.all()
		if len(ds) != 2 {
			t.Fatalf("dead letters: %+v", ds)
		}
		byCh := map[string]DeadLetter{}
		for _, d := range ds {
			byCh[d.Channel] = d
		}
		if d := byCh["down"]; d.Attempts != 4 || d.Err == nil || !strings.Contains(d.Err.Error(), "refused") || d.Event.Type != ForcedOpen {
			t.Errorf("down dead letter %+v", d)
		}
		if d := byCh["refused"]; d.Attempts != 1 || !IsPermanent(d.Err) {
			t.Errorf("refused dead letter %+v", d)
		}
		s := n.Stats()
		want := map[string]ChannelStats{
			"flaky":   {Name: "flaky", Enqueued: 1, Delivered: 1, Attempts: 3, Retries: 2},
			"down":    {Name: "down", Enqueued: 1, Attempts: 4, Retries: 3, Failed: 1},
			"refused": {Name: "refused", Enqueued: 1, Attempts: 1, Failed: 1},
		}
		for _, c := range s.Channels {
			if c != want[c.Name] {
				t.Errorf("stats %+v, want %+v", c, want[c.Name])
			}
		}
		closeNow(t, n)
	})
}

// TestRateLimitDelaysInOrder: over the limit, events wait their turn.
func TestRateLimitDelaysInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		rec := &recorder{}
		n, err := New(reg, WithChannel("rec", rec, RateLimit(ratelimit.Config{Limit: 1, Per: time.Minute, Burst: 1})))
		if err != nil {
			t.Fatal(err)
		}
		start(t, n)
		begin := time.Now()
		m := breaker.Manual{Actor: "bob"}
		for range 2 {
			_, _ = reg.ForceOpen(core.Name(reg.MustGuard("x").Name()), m)
			_, _ = reg.Release(core.Name("x"), m)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if k := rec.kinds(); k != "x:forced-open x:resolved x:forced-open x:resolved" {
			t.Fatalf("got %q", k)
		}
		for i, at := range rec.at {
			if d := at.Sub(begin); d != time.Duration(i)*time.Minute {
				t.Errorf("event %d delivered at +%v, want +%dm", i, d, i)
			}
		}
		if s := n.Stats().Channels[0]; s.RateLimited != 3 {
			t.Errorf("RateLimited = %d, want 3", s.RateLimited)
		}
		closeNow(t, n)
	})
}

// TestQueueBoundDropsOldest: a stuck destination fills its own queue only;
// the oldest events make room and become dead letters.
func TestQueueBoundDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		release := make(chan struct{})
		stuck := &recorder{fail: func(int, *Event) error { <-release; return nil }}
		fast := &recorder{}
		dl := &deadLetters{}
		n, err := New(reg,
			WithChannel("stuck", stuck, noLimit, QueueSize(2)),
			WithChannel("fast", fast, noLimit, QueueSize(2)),
			WithDeadLetters(dl))
		if err != nil {
			t.Fatal(err)
		}
		start(t, n)
		m := breaker.Manual{}
		var guards []string
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			reg.MustGuard(name).ForceOpen(m)
			guards = append(guards, name)
			synctest.Wait()
		}
		// stuck: a is in delivery, b and c were dropped for d and e.
		if s := n.Stats().Channels[0]; s.Dropped != 2 || s.Queued != 2 {
			t.Fatalf("stuck stats %+v", s)
		}
		if k := fast.kinds(); k != "a:forced-open b:forced-open c:forced-open d:forced-open e:forced-open" {
			t.Fatalf("fast got %q", k)
		}
		ds := dl.all()
		if len(ds) != 2 || ds[0].Event.Guard != "b" || ds[1].Event.Guard != "c" || !errors.Is(ds[0].Err, ErrQueueFull) {
			t.Fatalf("dead letters %+v", ds)
		}
		close(release)
		synctest.Wait()
		if k := stuck.kinds(); k != "a:forced-open d:forced-open e:forced-open" {
			t.Fatalf("stuck got %q", k)
		}
		closeNow(t, n)
	})
}

// TestInboxBoundAndReconcile: with the inbox full the hook drops changes
// and counts them; the dispatcher then ends the incident whose end it
// missed by reading the guard's state.
func TestInboxBoundAndReconcile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		rec := &recorder{}
		n, err := New(reg, WithChannel("rec", rec, noLimit), WithInboxSize(1))
		if err != nil {
			t.Fatal(err)
		}
		g := reg.MustGuard("g")
		g.ForceOpen(breaker.Manual{}) // queued
		g.Release(breaker.Manual{})   // dropped: inbox full, not started
		if s := n.Stats(); s.Received != 1 || s.Dropped != 1 {
			t.Fatalf("stats %+v", s)
		}
		start(t, n)
		synctest.Wait()
		if k := rec.kinds(); k != "g:forced-open g:resolved" {
			t.Fatalf("got %q", k)
		}
		closeNow(t, n)
		g.ForceOpen(breaker.Manual{}) // the notifier is detached: not even seen
		if s := n.Stats(); s.Dropped != 1 || s.Received != 1 {
			t.Fatalf("after close: %+v, want the hook detached", s)
		}
	})
}

// TestCloseAbandons: Close waits for queued events until its context ends,
// then records the rest as dead letters with ErrClosed.
func TestCloseAbandons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		block := ChannelFunc(func(ctx context.Context, e *Event) error {
			<-ctx.Done()
			return ctx.Err()
		})
		dl := &deadLetters{}
		n, err := New(reg,
			WithRules(Rule{MinOpen: core.Duration(time.Hour)}, Rule{Name: "now"}),
			WithChannel("block", block, noLimit, Timeout(time.Hour)),
			WithDeadLetters(dl))
		if err != nil {
			t.Fatal(err)
		}
		start(t, n)
		reg.MustGuard("a").ForceOpen(breaker.Manual{})
		reg.MustGuard("b").ForceOpen(breaker.Manual{})
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want deadline exceeded", err)
		}
		ds := dl.all()
		if len(ds) != 2 {
			t.Fatalf("dead letters %+v", ds)
		}
		for _, d := range ds {
			if !errors.Is(d.Err, ErrClosed) {
				t.Errorf("dead letter err %v", d.Err)
			}
		}
		s := n.Stats()
		if s.Discarded != 2 || s.Channels[0].Abandoned != 2 {
			t.Errorf("stats %+v", s)
		}
		if err := n.Close(ctx); err != nil {
			t.Errorf("second Close = %v", err)
		}
		if err := n.Start(); !errors.Is(err, ErrStarted) {
			t.Errorf("Start after Close = %v", err)
		}
	})
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newTestRegistry(t)
		rec := &recorder{}
		n, err := New(reg, WithChannel("rec", rec, noLimit))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- n.Run(ctx) }()
		synctest.Wait()
		reg.MustGuard("g").ForceOpen(breaker.Manual{})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if k := rec.kinds(); k != "g:forced-open" {
			t.Fatalf("got %q", k)
		}
	})
}

func TestNewErrors(t *testing.T) {
	reg := newTestRegistry(t)
	rec := &recorder{}
	tests := []struct {
		opts []Option
		want string
	}{
		{nil, "channels: none given"},
		{[]Option{WithChannel("a", rec), WithChannel("a", rec)}, `channel "a": name used twice`},
		{[]Option{WithChannel("", rec)}, "channel name must not be empty"},
		{[]Option{WithChannel("a", nil)}, `channel "a": channel is nil`},
		{[]Option{WithChannel("a", rec, QueueSize(0))}, `channel "a": queueSize: 0 must be at least 1`},
		{[]Option{WithChannel("a", rec, Timeout(-1))}, `channel "a": timeout: -1ns must be positive`},
		{[]Option{WithChannel("a", rec, RateLimit(ratelimit.Config{Limit: -3}))}, `channel "a": rateLimit: ratelimit: limit: -3`},
		{[]Option{WithChannel("a", rec, Retries(retry.Config{MaxAttempts: -1}))}, `channel "a": retry: maxAttempts: -1`},
		{[]Option{WithChannel("a", rec), WithRules(Rule{Name: "r", Channels: []string{"b"}})}, `rule "r": channels: "b" is not a channel`},
		{[]Option{WithChannel("a", rec), WithRules(Rule{Guards: []string{"["}})}, `rule "rule0": guards: "[" is not a valid pattern`},
		{[]Option{WithChannel("a", rec), WithInboxSize(0)}, `inboxSize: 0 must be at least 1`},
		{[]Option{WithChannel("w", &Webhook{URL: "ftp://x", Secret: []byte("s")})}, `channel "w": url: "ftp://x" must be an absolute http or https URL`},
		{[]Option{WithChannel("w", &Webhook{URL: "https://x"})}, `channel "w": secret: must not be empty`},
		{[]Option{WithChannel("s", &Slack{URL: "/relative"})}, `channel "s": url: "[relative URL]" must be an absolute http or https URL`},
		{[]Option{WithChannel("s", &Slack{URL: "https://x", Redirects: 7})}, `channel "s": redirects: 7 is not a RedirectPolicy`},
		{[]Option{WithChannel("m", &Email{Addr: "mail", From: "a@b", To: []string{"c@d"}})}, `channel "m": addr: "mail" must be host:port`},
		{[]Option{WithChannel("m", &Email{Addr: "mail:25", From: "nope", To: []string{"c@d"}})}, `channel "m": from: "nope" is not an address`},
		{[]Option{WithChannel("m", &Email{Addr: "mail:25", From: "a@b"})}, `channel "m": to: at least one recipient`},
	}
	for _, tt := range tests {
		_, err := New(reg, tt.opts...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New: %v, want %q", err, tt.want)
		}
	}
	if _, err := New(nil, WithChannel("a", rec)); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestHookAllocs: the hook that runs on the guarded call's goroutine
// allocates nothing, whether the inbox has room or is full.
func TestHookAllocs(t *testing.T) {
	reg := newTestRegistry(t)
	n, err := New(reg, WithChannel("rec", &recorder{}), WithInboxSize(64))
	if err != nil {
		t.Fatal(err)
	}
	e := core.StateChange{Guard: "g", Transition: breaker.Transition{From: breaker.Closed, To: breaker.Open, Reason: "r", At: time.Now()}}
	ctx := context.Background()
	if a := testing.AllocsPerRun(1000, func() { n.onStateChange(ctx, e) }); a != 0 {
		t.Errorf("hook allocates %v times per call", a)
	}
	if s := n.Stats(); s.Received != 64 || s.Dropped == 0 {
		t.Errorf("stats %+v", s)
	}
}

func BenchmarkHook(b *testing.B) {
	reg, _ := core.NewRegistry()
	n, _ := New(reg, WithChannel("rec", &recorder{}), WithInboxSize(1))
	e := core.StateChange{Guard: "g", Transition: breaker.Transition{From: breaker.Closed, To: breaker.Open, At: time.Now()}}
	ctx := context.Background()
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n.onStateChange(ctx, e)
		}
	})
	b.Run("full-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.onStateChange(ctx, e)
			}
		})
	})
	// With a dispatcher draining the inbox: the cost of a queued change.
	m, _ := New(reg, WithChannel("rec", ChannelFunc(func(context.Context, *Event) error { return nil }), noLimit), WithRules(Rule{Guards: []string{"none"}}))
	_ = m.Start()
	defer m.Close(context.Background())
	b.Run("queued", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.onStateChange(ctx, e)
		}
	})
	b.Run("queued-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.onStateChange(ctx, e)
			}
		})
	})
}
