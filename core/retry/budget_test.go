package retry

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

func mustBudget(t testing.TB, cfg BudgetConfig) *Budget {
	t.Helper()
	b, err := NewBudget(cfg)
	if err != nil {
		t.Fatalf("NewBudget(%+v): %v", cfg, err)
	}
	return b
}

func TestBudgetConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  BudgetConfig
		want string
	}{
		{BudgetConfig{}, ""},
		{BudgetConfig{Ratio: 0.1, MinRetriesPerSec: 5, Window: time.Second}, ""},
		{BudgetConfig{Ratio: -1}, ""},            // floor only
		{BudgetConfig{MinRetriesPerSec: -1}, ""}, // ratio only
		{BudgetConfig{Ratio: math.NaN()}, "retry: budget: ratio: NaN must be at most 1000"},
		{BudgetConfig{Ratio: 2000}, "retry: budget: ratio: 2000 must be at most 1000"},
		{BudgetConfig{Window: -time.Second}, "retry: budget: window: -1s must not be negative"},
		{BudgetConfig{Ratio: -1, MinRetriesPerSec: -1}, "no retry would ever be allowed"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%+v: Validate() = %v", tt.cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tt.cfg, err, tt.want)
		}
		if _, err := NewBudget(tt.cfg); err == nil {
			t.Errorf("%+v: NewBudget accepted it", tt.cfg)
		}
	}
}

func TestBudgetRatio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustBudget(t, BudgetConfig{Ratio: 0.2, MinRetriesPerSec: -1, Window: 10 * time.Second})
		now := time.Now()
		if b.WithdrawAt(now) {
			t.Fatal("withdrew from an empty budget without a floor")
		}
		for range 4 {
			b.DepositAt(now)
		}
		if b.WithdrawAt(now) {
			t.Fatal("4 calls at ratio 0.2 allowed a retry")
		}
		b.DepositAt(now)
		if !b.WithdrawAt(now) {
			t.Fatal("5 calls at ratio 0.2 did not allow a retry")
		}
		if b.WithdrawAt(now) {
			t.Fatal("second retry allowed")
		}
		for range 10 {
			b.DepositAt(now)
		}
		if got := b.AvailableAt(now); math.Abs(got-2) > 1e-6 {
			t.Fatalf("AvailableAt = %v, want 2", got)
		}
	})
}

func TestBudgetFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 2 retries per second over a 1s window: 2 retries per window, and
		// they come back as the window slides.
		b := mustBudget(t, BudgetConfig{Ratio: -1, MinRetriesPerSec: 2, Window: time.Second})
		now := time.Now()
		for i := range 2 {
			if !b.WithdrawAt(now) {
				t.Fatalf("floor retry %d refused", i+1)
			}
		}
		if b.WithdrawAt(now) {
			t.Fatal("third retry in one window allowed")
		}
		if b.WithdrawAt(now.Add(500 * time.Millisecond)) {
			t.Fatal("retry allowed before the window slid past the first ones")
		}
		if !b.WithdrawAt(now.Add(time.Second)) {
			t.Fatal("retry refused after a full window")
		}
	})
}

func TestBudgetExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustBudget(t, BudgetConfig{Ratio: 1, MinRetriesPerSec: -1, Window: 8 * time.Second})
		t0 := time.Now()
		for range 10 {
			b.DepositAt(t0)
		}
		// One bucket is 1s; the deposits at t0 count until t0+8s.
		if got := b.AvailableAt(t0.Add(7 * time.Second)); math.Abs(got-10) > 1e-6 {
			t.Fatalf("available at 7s = %v, want 10", got)
		}
		if got := b.AvailableAt(t0.Add(8 * time.Second)); math.Abs(got) > 1e-6 {
			t.Fatalf("available at 8s = %v, want 0", got)
		}
		// Time going backwards changes nothing.
		if got := b.AvailableAt(t0); math.Abs(got) > 1e-6 {
			t.Fatalf("available back at t0 = %v, want 0", got)
		}
		// A long gap clears every bucket.
		b.DepositAt(t0.Add(9 * time.Second))
		if got := b.AvailableAt(t0.Add(time.Hour)); math.Abs(got) > 1e-6 {
			t.Fatalf("available after an hour = %v, want 0", got)
		}
	})
}

func TestBudgetDepositSlidesWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustBudget(t, BudgetConfig{Ratio: 1, MinRetriesPerSec: -1, Window: 8 * time.Second})
		for range depositClockEvery {
			b.Deposit()
		}
		time.Sleep(time.Hour)
		// The clockless deposits land in the stale bucket until one reads
		// the clock: at most depositClockEvery of them.
		for range 2 * depositClockEvery {
			b.Deposit()
		}
		if got := b.Available(); got > depositClockEvery+1e-6 || got < depositClockEvery-1e-6 {
			t.Fatalf("Available = %v, want %d (the deposits after the clock read)", got, depositClockEvery)
		}
	})
}

// TestBudgetNoRetryStorm drives a dependency that fails every call through a
// Retrier with a budget and checks that the attempts stay within
// calls×(1+ratio) plus the floor of each window the run spans.
func TestBudgetNoRetryStorm(t *testing.T) {
	const (
		ratio  = 0.2
		floor  = 2 // retries per second
		window = time.Second
	)
	synctest.Test(t, func(t *testing.T) {
		b := mustBudget(t, BudgetConfig{Ratio: ratio, MinRetriesPerSec: floor, Window: window})
		r := mustNew(t, Config{MaxAttempts: 5, InitialDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, Budget: b})
		var mu sync.Mutex
		attempts, calls, exhausted := 0, 0, 0
		fail := func(context.Context) error {
			mu.Lock()
			attempts++
			mu.Unlock()
			return errBoom
		}
		start := time.Now()
		var wg sync.WaitGroup
		for range 8 { // 8 clients, one call every 5ms each, for 5s
			wg.Go(func() {
				for time.Since(start) < 5*time.Second {
					err := r.Do(context.Background(), fail)
					mu.Lock()
					calls++
					if errors.Is(err, ErrBudgetExhausted) {
						exhausted++
						if !errors.Is(err, errBoom) {
							t.Errorf("budget error %v does not wrap the last error", err)
						}
					}
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		windows := int(elapsed/window) + 2 // disjoint windows the run can span
		limit := float64(calls)*(1+ratio) + float64(floor*windows)*window.Seconds()
		t.Logf("calls=%d attempts=%d (%.2f per call) exhausted=%d limit=%.0f over %v", calls, attempts, float64(attempts)/float64(calls), exhausted, limit, elapsed)
		if float64(attempts) > limit {
			t.Fatalf("retry storm: %d attempts for %d calls, limit %.0f", attempts, calls, limit)
		}
		if exhausted == 0 {
			t.Fatal("the budget never refused a retry")
		}
		if retries := attempts - calls; float64(retries) < ratio*float64(calls)/2 {
			t.Fatalf("only %d retries for %d calls: the budget is far stricter than its ratio", retries, calls)
		}
	})
}

// TestBudgetBurst checks the bound when every call lands in one window, from
// many goroutines at once.
func TestBudgetBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustBudget(t, BudgetConfig{Ratio: 0.1, MinRetriesPerSec: 1, Window: time.Minute})
		r := mustNew(t, Config{MaxAttempts: 10, Budget: b, Rand: fixed(0)}) // zero delays
		var mu sync.Mutex
		attempts := 0
		var wg sync.WaitGroup
		const calls = 1000
		for range 50 {
			wg.Go(func() {
				for range calls / 50 {
					_ = r.Do(context.Background(), func(context.Context) error {
						mu.Lock()
						attempts++
						mu.Unlock()
						return errBoom
					})
				}
			})
		}
		wg.Wait()
		if limit := calls*1.1 + 60; float64(attempts) > limit {
			t.Fatalf("%d attempts for %d calls, limit %v", attempts, calls, limit)
		}
	})
}

func TestBudgetExhaustedError(t *testing.T) {
	b := mustBudget(t, BudgetConfig{Ratio: 0.01, MinRetriesPerSec: -1})
	r := mustNew(t, Config{Budget: b})
	err := r.Do(context.Background(), func(context.Context) error { return errBoom })
	if !errors.Is(err, ErrBudgetExhausted) || !errors.Is(err, errBoom) {
		t.Fatalf("Do = %v, want ErrBudgetExhausted wrapping errBoom", err)
	}
	if errors.Is(err, reject.ErrRejected) || errors.Is(ErrBudgetExhausted, reject.ErrRejected) {
		t.Fatal("budget exhaustion matches ErrRejected")
	}
	if got := err.Error(); got != "retry: budget exhausted: boom" {
		t.Fatalf("Error() = %q", got)
	}
	var typed interface{ ErrorType() string }
	if !errors.As(err, &typed) || typed.ErrorType() != "retry_budget_exhausted" {
		t.Fatal("no ErrorType retry_budget_exhausted")
	}
	if ErrBudgetExhausted.(interface{ ErrorType() string }).ErrorType() != "retry_budget_exhausted" {
		t.Fatal("sentinel ErrorType")
	}
}

func TestBudgetDepositAllocs(t *testing.T) {
	b := mustBudget(t, BudgetConfig{})
	if n := testing.AllocsPerRun(1000, b.Deposit); n != 0 {
		t.Errorf("Deposit allocates %v times", n)
	}
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() { b.DepositAt(now); b.WithdrawAt(now) }); n != 0 {
		t.Errorf("DepositAt+WithdrawAt allocate %v times", n)
	}
}

func BenchmarkBudgetDeposit(b *testing.B) {
	bud := mustBudget(b, BudgetConfig{})
	b.ReportAllocs()
	for b.Loop() {
		bud.Deposit()
	}
}

func BenchmarkBudgetDepositParallel(b *testing.B) {
	bud := mustBudget(b, BudgetConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bud.Deposit()
		}
	})
}

func BenchmarkBudgetWithdraw(b *testing.B) {
	bud := mustBudget(b, BudgetConfig{Ratio: 1})
	b.ReportAllocs()
	for b.Loop() {
		bud.Deposit()
		bud.Withdraw()
	}
}

func BenchmarkBudgetWithdrawParallel(b *testing.B) {
	bud := mustBudget(b, BudgetConfig{Ratio: 1})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bud.Deposit()
			bud.Withdraw()
		}
	})
}
