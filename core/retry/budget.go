package retry

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by [NewBudget] to zero fields of [BudgetConfig].
const (
	DefaultBudgetRatio      = 0.2
	DefaultMinRetriesPerSec = 10
	DefaultBudgetWindow     = 10 * time.Second
)

// budgetBuckets is the number of buckets a Budget's window is split into:
// the window slides in steps of Window/budgetBuckets. A power of two.
const budgetBuckets = 8

// depositClockEvery is how often (in deposits per bucket) Deposit reads the
// clock to slide the window. See Budget.Deposit. A power of two.
const depositClockEvery = 32

// maxBudgetRatio bounds BudgetConfig.Ratio; more retries per call than this
// is not a budget.
const maxBudgetRatio = 1000

// BudgetConfig configures a [Budget]. Zero fields take the defaults named on
// each field.
type BudgetConfig struct {
	// Ratio is the share of calls that may be retried: each call deposits
	// Ratio of a retry and each retry withdraws one. 0 means
	// DefaultBudgetRatio (0.2: at most one retry per five calls); a
	// negative value means no share, so that only MinRetriesPerSec retries
	// are allowed.
	Ratio float64
	// MinRetriesPerSec is a floor that lets services with little traffic
	// retry at all: on top of the Ratio share, MinRetriesPerSec×Window
	// retries may be spent in any Window. 0 means DefaultMinRetriesPerSec
	// (10); a negative value means no floor.
	MinRetriesPerSec int
	// Window is how long a deposit or a withdrawal counts.
	// 0 means DefaultBudgetWindow (10s).
	Window time.Duration
}

// Validate reports every invalid field of c, each named as its JSON name
// would be, joined with [errors.Join]. Zero fields are valid: they mean the
// defaults.
func (c BudgetConfig) Validate() error {
	var errs []error
	if math.IsNaN(c.Ratio) || c.Ratio > maxBudgetRatio {
		errs = append(errs, fmt.Errorf("retry: budget: ratio: %v must be at most %d", c.Ratio, maxBudgetRatio))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("retry: budget: window: %v must not be negative", c.Window))
	}
	if c.Ratio < 0 && c.MinRetriesPerSec < 0 {
		errs = append(errs, fmt.Errorf("retry: budget: ratio: %v and minRetriesPerSec: %d are both disabled, so no retry would ever be allowed", c.Ratio, c.MinRetriesPerSec))
	}
	return errors.Join(errs...)
}

// Budget caps retries at a share of calls, so that a failing dependency
// does not receive a retry storm on top of its normal load, as in Finagle's
// RetryBudget and gRPC's retry throttling. It is a sliding window of
// Window, in buckets: a retry is allowed when
//
//	Ratio×calls - retries + MinRetriesPerSec×Window >= 1
//
// counting the calls and retries of the last Window. So over any Window the
// retries stay within Ratio×calls + MinRetriesPerSec×Window.
//
// Every call deposits ([Budget.Deposit]); every retry withdraws
// ([Budget.Withdraw]). Deposit is lock-free: an atomic load and add, and
// a clock read once per 32 deposits; it never allocates. Withdraw, which runs
// only before a retry, takes a mutex and reads the clock. The At variants
// take the time explicitly, for tests and simulations.
//
// A Budget is safe for concurrent use and meant to be shared by every
// Retrier calling the same dependency. Create it with [NewBudget]; the zero
// value is not usable.
type Budget struct {
	epoch   atomic.Int64 // current bucket number: time since base / width
	buckets [budgetBuckets]budgetBucket

	ratio   float64 // per deposit; 0 when disabled
	reserve float64 // MinRetriesPerSec × Window, in retries
	width   int64   // nanoseconds per bucket
	base    time.Time

	mu sync.Mutex // serialises window sliding and withdrawals
}

type budgetBucket struct {
	deposits    atomic.Int64
	withdrawals atomic.Int64
}

// NewBudget returns a Budget for cfg with defaults applied, or the error of
// [BudgetConfig.Validate].
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Ratio == 0 {
		cfg.Ratio = DefaultBudgetRatio
	}
	if cfg.MinRetriesPerSec == 0 {
		cfg.MinRetriesPerSec = DefaultMinRetriesPerSec
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultBudgetWindow
	}
	b := &Budget{
		ratio: max(cfg.Ratio, 0),
		width: max(int64(cfg.Window)/budgetBuckets, 1),
		base:  time.Now(),
	}
	if cfg.MinRetriesPerSec > 0 {
		b.reserve = float64(cfg.MinRetriesPerSec) * cfg.Window.Seconds()
	}
	return b, nil
}

// Deposit records a call. It reads the clock only once per 32 deposits into
// the current bucket, so a deposit may count in a bucket slightly older than
// its time (never more than 32 deposits' worth): it then expires slightly
// early. It does not allocate.
func (b *Budget) Deposit() {
	e := b.epoch.Load()
	if b.buckets[e&(budgetBuckets-1)].deposits.Add(1)&(depositClockEvery-1) == 0 {
		b.tick(e)
	}
}

// tick slides the window if the clock has left bucket e, unless another
// goroutine is sliding it already. Deposit's slow path, kept out of line so
// that Deposit inlines.
func (b *Budget) tick(e int64) {
	now := time.Now()
	if b.epochOf(now) > e && b.mu.TryLock() {
		b.slide(now)
		b.mu.Unlock()
	}
}

// DepositAt records a call at time now.
func (b *Budget) DepositAt(now time.Time) {
	if b.epochOf(now) > b.epoch.Load() {
		b.mu.Lock()
		b.slide(now)
		b.mu.Unlock()
	}
	b.buckets[b.epoch.Load()&(budgetBuckets-1)].deposits.Add(1)
}

// Withdraw takes one retry from the budget and reports whether it could.
func (b *Budget) Withdraw() bool { return b.WithdrawAt(time.Now()) }

// WithdrawAt is [Budget.Withdraw] at time now.
func (b *Budget) WithdrawAt(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slide(now)
	if b.available() < 1 {
		return false
	}
	b.buckets[b.epoch.Load()&(budgetBuckets-1)].withdrawals.Add(1)
	return true
}

// Available returns how many retries the budget allows now (it may be
// fractional or negative).
func (b *Budget) Available() float64 { return b.AvailableAt(time.Now()) }

// AvailableAt is [Budget.Available] at time now.
func (b *Budget) AvailableAt(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slide(now)
	return b.available()
}

// available sums the window. The tiny epsilon keeps 5 deposits at ratio
// 0.2 worth one retry despite floating-point rounding.
func (b *Budget) available() float64 {
	var dep, wd int64
	for i := range b.buckets {
		dep += b.buckets[i].deposits.Load()
		wd += b.buckets[i].withdrawals.Load()
	}
	return b.ratio*float64(dep) - float64(wd) + b.reserve + 1e-9
}

// epochOf returns the bucket number of time t.
func (b *Budget) epochOf(t time.Time) int64 {
	return int64(t.Sub(b.base)) / b.width
}

// slide moves the window to now, clearing buckets that fell out of it.
// Time never moves the window back. Called with mu held.
func (b *Budget) slide(now time.Time) {
	e, cur := b.epochOf(now), b.epoch.Load()
	if e <= cur {
		return
	}
	for i := cur + 1; i <= e && i <= cur+budgetBuckets; i++ {
		bk := &b.buckets[i&(budgetBuckets-1)]
		bk.deposits.Store(0)
		bk.withdrawals.Store(0)
	}
	b.epoch.Store(e)
}
