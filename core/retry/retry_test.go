package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

var errBoom = errors.New("boom")

// hintError is a failure carrying a retry-after hint.
type hintError struct{ d time.Duration }

func (e hintError) Error() string             { return fmt.Sprintf("retry after %v", e.d) }
func (e hintError) RetryAfter() time.Duration { return e.d }

func mustNew(t testing.TB, cfg Config) *Retrier {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return r
}

// fixed returns a Rand source that always returns u.
func fixed(u float64) func() float64 { return func() float64 { return u } }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"zero", Config{}, ""},
		{"one attempt", Config{MaxAttempts: 1}, ""},
		{"constant", Config{Multiplier: 1, Jitter: NoJitter}, ""},
		{"maxAttempts", Config{MaxAttempts: -1}, "retry: maxAttempts: -1 must be at least 1"},
		{"initialDelay", Config{InitialDelay: -time.Second}, "retry: initialDelay: -1s must not be negative"},
		{"maxDelay", Config{MaxDelay: -time.Second}, "retry: maxDelay: -1s must not be negative"},
		{"maxTotal", Config{MaxTotal: -time.Second}, "retry: maxTotal: -1s must not be negative"},
		{"multiplier", Config{Multiplier: 0.5}, "retry: multiplier: 0.5 must be at least 1"},
		{"jitter", Config{Jitter: 7}, "retry: jitter: Jitter(7) must be none, full or decorrelated"},
		{"maxDelay below initialDelay", Config{InitialDelay: 20 * time.Second}, "retry: maxDelay: 10s must be at least initialDelay (20s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if _, nerr := New(tt.cfg); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	// Every problem is reported.
	err := Config{MaxAttempts: -1, Multiplier: -2}.Validate()
	if err == nil || !strings.Contains(err.Error(), "maxAttempts") || !strings.Contains(err.Error(), "multiplier") {
		t.Fatalf("Validate() = %v, want both fields", err)
	}
}

func TestDefaults(t *testing.T) {
	c := mustNew(t, Config{}).Config()
	if c.MaxAttempts != 3 || c.InitialDelay != 100*time.Millisecond || c.MaxDelay != 10*time.Second ||
		c.Multiplier != 2 || c.Jitter != FullJitter || c.RetryOn == nil || c.Rand == nil || c.MaxTotal != 0 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestJitterText(t *testing.T) {
	for _, j := range []Jitter{NoJitter, FullJitter, DecorrelatedJitter} {
		b, err := j.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Jitter
		if err := got.UnmarshalText(b); err != nil || got != j {
			t.Fatalf("round trip of %v: %v, %v", j, got, err)
		}
	}
	if j, err := ParseJitter(""); err != nil || j != FullJitter {
		t.Fatalf(`ParseJitter("") = %v, %v`, j, err)
	}
	if _, err := ParseJitter("exponential"); err == nil || !strings.Contains(err.Error(), `jitter: "exponential"`) {
		t.Fatalf("ParseJitter(bad) = %v", err)
	}
	if _, err := Jitter(9).MarshalText(); err == nil {
		t.Fatal("MarshalText accepted Jitter(9)")
	}
	if s := Jitter(9).String(); s != "Jitter(9)" {
		t.Fatalf("String = %q", s)
	}
}

func TestDelayNoJitter(t *testing.T) {
	r := mustNew(t, Config{InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: NoJitter})
	want := []time.Duration{0, 0, 100, 200, 400, 800, 1000, 1000, 1000}
	for n, w := range want {
		if got := r.Delay(n, 0, 0.3); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	// Huge attempt numbers saturate at MaxDelay instead of overflowing.
	if got := r.Delay(1<<30, 0, 0); got != time.Second {
		t.Errorf("Delay(1<<30) = %v", got)
	}
	r = mustNew(t, Config{InitialDelay: 50 * time.Millisecond, Multiplier: 1.5, Jitter: NoJitter})
	if got := r.Delay(4, 0, 0); got != 112500*time.Microsecond {
		t.Errorf("multiplier 1.5: Delay(4) = %v, want 112.5ms", got)
	}
}

func TestDelayFullJitter(t *testing.T) {
	r := mustNew(t, Config{InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second})
	tests := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{2, 0, 0},
		{2, 0.5, 50 * time.Millisecond},
		{2, 1, 100 * time.Millisecond},
		{3, 0.25, 50 * time.Millisecond},
		{10, 0.5, 500 * time.Millisecond},
		{10, 1, time.Second},
		{2, -3, 0},                     // clamped
		{2, 7, 100 * time.Millisecond}, // clamped
	}
	for _, tt := range tests {
		if got := r.Delay(tt.n, 0, tt.u); got != tt.want {
			t.Errorf("Delay(%d, u=%v) = %v, want %v", tt.n, tt.u, got, tt.want)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		n := 2 + rnd.IntN(12)
		d := mustNoJitter(t, r).Delay(n, 0, 0)
		if got := r.Delay(n, 0, rnd.Float64()); got < 0 || got > d {
			t.Fatalf("Delay(%d) = %v, want in [0, %v]", n, got, d)
		}
	}
}

func mustNoJitter(t *testing.T, r *Retrier) *Retrier {
	c := r.Config()
	c.Jitter = NoJitter
	return mustNew(t, c)
}

func TestDelayDecorrelated(t *testing.T) {
	const init, maxd = 100 * time.Millisecond, 2 * time.Second
	r := mustNew(t, Config{InitialDelay: init, MaxDelay: maxd, Jitter: DecorrelatedJitter})
	tests := []struct {
		prev time.Duration
		u    float64
		want time.Duration
	}{
		{0, 0, init},                     // first retry: [init, 3×init]
		{0, 1, 300 * time.Millisecond},   //
		{0, 0.5, 200 * time.Millisecond}, //
		{400 * time.Millisecond, 1, 1200 * time.Millisecond},
		{400 * time.Millisecond, 0, init},
		{time.Second, 1, maxd}, // capped
		{maxd, 0.5, init + (maxd-init)/2},
	}
	for _, tt := range tests {
		if got := r.Delay(2, tt.prev, tt.u); got != tt.want {
			t.Errorf("Delay(prev=%v, u=%v) = %v, want %v", tt.prev, tt.u, got, tt.want)
		}
	}
	// Bounds along random schedules: [init, min(max, 3×prev)].
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var prev time.Duration
		for n := 2; n < 30; n++ {
			d := r.Delay(n, prev, rnd.Float64())
			hi := min(maxd, 3*max(prev, init))
			if d < init || d > hi {
				t.Fatalf("Delay(%d, prev=%v) = %v, want in [%v, %v]", n, prev, d, init, hi)
			}
			prev = d
		}
	}
}

func FuzzDelay(f *testing.F) {
	f.Add(int64(100e6), int64(10e9), 2.0, uint8(0), 3, int64(0), 0.5)
	f.Add(int64(1), int64(1), 1.0, uint8(2), 100, int64(1e9), 0.99)
	f.Fuzz(func(t *testing.T, initial, maxd int64, mult float64, jit uint8, n int, prev int64, u float64) {
		cfg := Config{InitialDelay: time.Duration(initial), MaxDelay: time.Duration(maxd), Multiplier: mult, Jitter: Jitter(jit % 3)}
		r, err := New(cfg)
		if err != nil {
			return
		}
		c := r.Config()
		d := r.Delay(n, time.Duration(prev), u)
		switch {
		case n < 2:
			if d != 0 {
				t.Fatalf("Delay(%d) = %v, want 0", n, d)
			}
		case c.Jitter == DecorrelatedJitter:
			if d < c.InitialDelay || d > c.MaxDelay {
				t.Fatalf("decorrelated Delay = %v, want in [%v, %v]", d, c.InitialDelay, c.MaxDelay)
			}
		default:
			if d < 0 || d > c.MaxDelay {
				t.Fatalf("Delay = %v, want in [0, %v]", d, c.MaxDelay)
			}
		}
	})
}

func TestDefaultRetryOn(t *testing.T) {
	rejected := reject.New("test: rejected", "test_rejected")
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errBoom, true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), true},
		{context.Canceled, false},
		{fmt.Errorf("call: %w", context.Canceled), false},
		{rejected, false},
		{fmt.Errorf("guard x: %w", rejected), false},
		{reject.ErrRejected, false},
		{ErrBudgetExhausted, false},
		{&exhaustedError{err: errBoom}, false},
		{errors.Join(errBoom, rejected), false},
	}
	for _, tt := range tests {
		if got := DefaultRetryOn(tt.err); got != tt.want {
			t.Errorf("DefaultRetryOn(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		err  error
		want time.Duration
		ok   bool
	}{
		{nil, 0, false},
		{errBoom, 0, false},
		{hintError{time.Second}, time.Second, true},
		{hintError{0}, 0, false},
		{hintError{-time.Second}, 0, false},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", hintError{2 * time.Second})), 2 * time.Second, true},
		{fmt.Errorf("a: %w", hintError{0}), 0, false},
		{fmt.Errorf("outer %w: %w", hintError{0}, hintError{3 * time.Second}), 3 * time.Second, true},
		{errors.Join(errBoom, fmt.Errorf("x: %w", hintError{4 * time.Second})), 4 * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(tt.err)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%v) = %v, %v, want %v, %v", tt.err, got, ok, tt.want, tt.ok)
		}
	}
	err := fmt.Errorf("a: %w", hintError{time.Second})
	if n := testing.AllocsPerRun(100, func() { RetryAfter(err) }); n != 0 {
		t.Errorf("RetryAfter allocates %v times", n)
	}
}

// counter is a function failing with errs[i] on call i (nil after the list).
type counter struct {
	mu    sync.Mutex
	calls int
	errs  []error
	times []time.Time
}

func (c *counter) fn(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, time.Now())
	c.calls++
	if c.calls <= len(c.errs) {
		return c.errs[c.calls-1]
	}
	return nil
}

func TestDoSuccessFirstTry(t *testing.T) {
	r := mustNew(t, Config{})
	c := &counter{}
	if err := r.Do(context.Background(), c.fn); err != nil || c.calls != 1 {
		t.Fatalf("Do = %v after %d calls", err, c.calls)
	}
}

func TestDoNilRetrier(t *testing.T) {
	var r *Retrier
	c := &counter{errs: []error{errBoom}}
	if err := r.Do(context.Background(), c.fn); err != errBoom || c.calls != 1 {
		t.Fatalf("nil Retrier: Do = %v after %d calls", err, c.calls)
	}
}

func TestDoSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, Config{MaxAttempts: 4, InitialDelay: 100 * time.Millisecond, Jitter: NoJitter})
		c := &counter{errs: []error{errBoom, errBoom, errBoom}}
		start := time.Now()
		if err := r.Do(context.Background(), c.fn); err != nil {
			t.Fatalf("Do = %v", err)
		}
		if c.calls != 4 {
			t.Fatalf("calls = %d, want 4", c.calls)
		}
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}
		for i, at := range c.times {
			if got := at.Sub(start); got != want[i] {
				t.Errorf("attempt %d at %v, want %v", i+1, got, want[i])
			}
		}
	})
}

func TestDoGivesUpAfterMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		last := errors.New("third")
		r := mustNew(t, Config{MaxAttempts: 3})
		c := &counter{errs: []error{errBoom, errBoom, last, errBoom}}
		if err := r.Do(context.Background(), c.fn); err != last {
			t.Fatalf("Do = %v, want the last error unchanged", err)
		}
		if c.calls != 3 {
			t.Fatalf("calls = %d, want 3", c.calls)
		}
	})
}

func TestDoSingleAttempt(t *testing.T) {
	r := mustNew(t, Config{MaxAttempts: 1})
	c := &counter{errs: []error{errBoom}}
	if err := r.Do(context.Background(), c.fn); err != errBoom || c.calls != 1 {
		t.Fatalf("Do = %v after %d calls", err, c.calls)
	}
}

func TestDoDoesNotRetry(t *testing.T) {
	rejected := reject.New("test: open", "circuit_open")
	for _, err := range []error{rejected, context.Canceled, fmt.Errorf("wrapped: %w", rejected)} {
		r := mustNew(t, Config{MaxAttempts: 5})
		c := &counter{errs: []error{err}}
		if got := r.Do(context.Background(), c.fn); got != err || c.calls != 1 {
			t.Errorf("%v: Do = %v after %d calls, want no retry", err, got, c.calls)
		}
	}
	// A custom RetryOn.
	r := mustNew(t, Config{MaxAttempts: 5, RetryOn: func(err error) bool { return err != errBoom }})
	c := &counter{errs: []error{errBoom}}
	if got := r.Do(context.Background(), c.fn); got != errBoom || c.calls != 1 {
		t.Errorf("custom RetryOn: Do = %v after %d calls", got, c.calls)
	}
}

func TestDoOnRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []Attempt
		type key struct{}
		ctx := context.WithValue(context.Background(), key{}, "v")
		r := mustNew(t, Config{MaxAttempts: 3, Jitter: NoJitter, OnRetry: func(hctx context.Context, a Attempt) {
			if hctx.Value(key{}) != "v" {
				t.Error("OnRetry did not get the call's context")
			}
			got = append(got, a)
		}})
		e1, e2 := errors.New("e1"), errors.New("e2")
		c := &counter{errs: []error{e1, e2}}
		if err := r.Do(ctx, c.fn); err != nil {
			t.Fatal(err)
		}
		want := []Attempt{{2, 100 * time.Millisecond, e1}, {3, 200 * time.Millisecond, e2}}
		if len(got) != len(want) {
			t.Fatalf("OnRetry calls = %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("OnRetry %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func TestDoSeededRand(t *testing.T) {
	run := func() []time.Time {
		var times []time.Time
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			src := rand.New(rand.NewPCG(42, 7))
			r := mustNew(t, Config{MaxAttempts: 5, Rand: func() float64 { mu.Lock(); defer mu.Unlock(); return src.Float64() }})
			c := &counter{errs: []error{errBoom, errBoom, errBoom, errBoom}}
			start := time.Now()
			if err := r.Do(context.Background(), c.fn); err != nil {
				t.Fatal(err)
			}
			for _, at := range c.times {
				times = append(times, time.Time{}.Add(at.Sub(start)))
			}
		})
		return times
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("seeded schedules differ: %v vs %v", a, b)
	}
}

func TestDoRetryAfterHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, Config{MaxAttempts: 3, Jitter: NoJitter, MaxDelay: 5 * time.Second})
		// The hint raises the 100ms delay to 2s; the next one, 200ms, has no hint.
		c := &counter{errs: []error{fmt.Errorf("429: %w", hintError{2 * time.Second}), errBoom}}
		start := time.Now()
		if err := r.Do(context.Background(), c.fn); err != nil {
			t.Fatal(err)
		}
		if got := c.times[1].Sub(start); got != 2*time.Second {
			t.Errorf("second attempt at %v, want 2s (the hint)", got)
		}
		if got := c.times[2].Sub(c.times[1]); got != 200*time.Millisecond {
			t.Errorf("third attempt %v after the second, want 200ms (schedule unchanged by the hint)", got)
		}
	})
	t.Run("shorter than schedule", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustNew(t, Config{MaxAttempts: 2, Jitter: NoJitter, InitialDelay: time.Second})
			c := &counter{errs: []error{hintError{time.Millisecond}}}
			start := time.Now()
			_ = r.Do(context.Background(), c.fn)
			if got := c.times[1].Sub(start); got != time.Second {
				t.Errorf("second attempt at %v, want 1s: a hint never shortens a delay", got)
			}
		})
	})
	t.Run("capped by MaxDelay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustNew(t, Config{MaxAttempts: 2, Jitter: NoJitter, MaxDelay: time.Second})
			c := &counter{errs: []error{hintError{time.Minute}}}
			start := time.Now()
			_ = r.Do(context.Background(), c.fn)
			if got := c.times[1].Sub(start); got != time.Second {
				t.Errorf("second attempt at %v, want 1s (MaxDelay)", got)
			}
		})
	})
	t.Run("beyond MaxTotal", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustNew(t, Config{MaxAttempts: 5, MaxTotal: 3 * time.Second})
			herr := hintError{10 * time.Second}
			c := &counter{errs: []error{herr}}
			start := time.Now()
			if err := r.Do(context.Background(), c.fn); err != herr {
				t.Fatalf("Do = %v, want the hinted error", err)
			}
			if c.calls != 1 || time.Since(start) != 0 {
				t.Fatalf("%d calls, %v spent; want 1 call and no sleep", c.calls, time.Since(start))
			}
		})
	})
}

func TestDoMaxTotal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Delays 1s, 2s, 4s...; attempts take 500ms each. MaxTotal 5s:
		// attempt 1 [0, .5], sleep 1s, attempt 2 [1.5, 2], sleep 2s,
		// attempt 3 [4, 4.5]; a 4s delay would end past 5s, so stop.
		r := mustNew(t, Config{MaxAttempts: 10, InitialDelay: time.Second, Jitter: NoJitter, MaxTotal: 5 * time.Second})
		calls := 0
		start := time.Now()
		err := r.Do(context.Background(), func(context.Context) error {
			calls++
			time.Sleep(500 * time.Millisecond)
			return errBoom
		})
		if err != errBoom || calls != 3 {
			t.Fatalf("Do = %v after %d calls, want errBoom after 3", err, calls)
		}
		if got := time.Since(start); got != 4500*time.Millisecond {
			t.Fatalf("spent %v, want 4.5s", got)
		}
	})
}

func TestDoCancelMidSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, Config{MaxAttempts: 3, InitialDelay: 10 * time.Second, MaxDelay: time.Minute, Jitter: NoJitter})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		c := &counter{errs: []error{errBoom, errBoom}}
		start := time.Now()
		if err := r.Do(ctx, c.fn); err != context.Canceled {
			t.Fatalf("Do = %v, want context.Canceled unchanged", err)
		}
		if c.calls != 1 || time.Since(start) != time.Second {
			t.Fatalf("%d calls, returned after %v; want 1 call, 1s", c.calls, time.Since(start))
		}
	})
}

func TestDoDeadlineBeforeDelayEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, Config{MaxAttempts: 3, InitialDelay: 10 * time.Second, MaxDelay: time.Minute, Jitter: NoJitter})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c := &counter{errs: []error{errBoom, errBoom}}
		start := time.Now()
		if err := r.Do(ctx, c.fn); err != errBoom {
			t.Fatalf("Do = %v, want the last error (sleeping past the deadline is pointless)", err)
		}
		if c.calls != 1 || time.Since(start) != 0 {
			t.Fatalf("%d calls after %v, want 1 call at once", c.calls, time.Since(start))
		}
	})
}

func TestDoAlreadyCanceled(t *testing.T) {
	r := mustNew(t, Config{MaxAttempts: 3})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &counter{errs: []error{errBoom, errBoom}}
	if err := r.Do(ctx, c.fn); err != context.Canceled || c.calls != 1 {
		t.Fatalf("Do = %v after %d calls", err, c.calls)
	}
}

func TestDoZeroDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Full jitter with u = 0 gives zero delays: no timer, no sleep.
		r := mustNew(t, Config{MaxAttempts: 3, Rand: fixed(0)})
		c := &counter{errs: []error{errBoom, errBoom}}
		start := time.Now()
		if err := r.Do(context.Background(), c.fn); err != nil || c.calls != 3 || time.Since(start) != 0 {
			t.Fatalf("Do = %v, %d calls, %v", err, c.calls, time.Since(start))
		}
	})
}

func TestDoConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, Config{MaxAttempts: 3})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				c := &counter{errs: []error{errBoom, errBoom}}
				if err := r.Do(context.Background(), c.fn); err != nil || c.calls != 3 {
					t.Errorf("Do = %v after %d calls", err, c.calls)
				}
			})
		}
		wg.Wait()
	})
}

func TestDoAllocs(t *testing.T) {
	ctx := context.Background()
	b, err := NewBudget(BudgetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"plain":    {},
		"budget":   {Budget: b},
		"maxTotal": {MaxTotal: time.Second},
	} {
		r := mustNew(t, cfg)
		calls := 0
		if n := testing.AllocsPerRun(1000, func() {
			_ = r.Do(ctx, func(context.Context) error { calls++; return nil })
		}); n != 0 {
			t.Errorf("%s: Do (success first try) allocates %v times", name, n)
		}
	}
}

func BenchmarkDoSuccess(b *testing.B) {
	ctx := context.Background()
	r := mustNew(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Do(ctx, func(context.Context) error { return nil })
	}
}

func BenchmarkDoSuccessParallel(b *testing.B) {
	ctx := context.Background()
	r := mustNew(b, Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = r.Do(ctx, func(context.Context) error { return nil })
		}
	})
}

func BenchmarkDoSuccessBudget(b *testing.B) {
	ctx := context.Background()
	bud, _ := NewBudget(BudgetConfig{})
	r := mustNew(b, Config{Budget: bud})
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Do(ctx, func(context.Context) error { return nil })
	}
}

func BenchmarkDoSuccessBudgetParallel(b *testing.B) {
	ctx := context.Background()
	bud, _ := NewBudget(BudgetConfig{})
	r := mustNew(b, Config{Budget: bud})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = r.Do(ctx, func(context.Context) error { return nil })
		}
	})
}

// BenchmarkDoRetryZeroDelay measures the retry path's own cost: two failed
// attempts and a success, with zero delays so no timer fires.
func BenchmarkDoRetryZeroDelay(b *testing.B) {
	ctx := context.Background()
	r := mustNew(b, Config{Rand: fixed(0)})
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		_ = r.Do(ctx, func(context.Context) error {
			if n++; n < 3 {
				return errBoom
			}
			return nil
		})
	}
}

func BenchmarkDelay(b *testing.B) {
	r := mustNew(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Delay(5, 0, 0.5)
	}
}
