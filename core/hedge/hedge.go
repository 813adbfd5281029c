package hedge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults and limits of [Config].
const (
	// DefaultMaxHedges is the hedges a call may start when
	// Config.MaxHedges is 0.
	DefaultMaxHedges = 1
	// MaxHedgesLimit bounds Config.MaxHedges: more concurrent copies of
	// one call than this is load, not latency insurance.
	MaxHedgesLimit = 10
	// DefaultMinSamples is the samples a percentile delay needs before it
	// replaces the fixed Delay, when Config.MinSamples is 0.
	DefaultMinSamples = 100
	// recomputeEvery is how often, in samples, a percentile delay is read
	// again from the sketch. A power of two.
	recomputeEvery = 64
)

// Budget is what hedges spend: a hedge starts only when Withdraw says yes.
// *retry.Budget satisfies it, so that hedges and retries of one guard
// share one budget.
type Budget interface {
	// Deposit records a call.
	Deposit()
	// Withdraw takes one extra attempt from the budget and reports whether
	// it could.
	Withdraw() bool
}

// Config configures a [Hedger].
type Config struct {
	// Delay is how long an attempt runs before the next one starts;
	// required (above 0). With Percentile, it is the floor of the live
	// delay and the delay used until MinSamples latencies are known.
	Delay time.Duration
	// Percentile, if set (0 < Percentile < 100), makes the delay the
	// given percentile of recent attempt latencies (95 for p95), never
	// below Delay.
	Percentile float64
	// MinSamples is the latencies the percentile needs before it applies.
	// 0 means DefaultMinSamples.
	MinSamples int
	// Window is the samples each half of the latency sketch holds; 0 means
	// DefaultWindow (see Sketch).
	Window int
	// MaxHedges is the most extra attempts one call may start, at Delay
	// intervals. 0 means DefaultMaxHedges (1); at most MaxHedgesLimit.
	MaxHedges int
	// Budget, if set, must allow each hedge (Withdraw); a hedge it refuses
	// is not started and is counted as budget-stopped. Unless
	// SharedDeposits is set, every Do deposits into it.
	Budget Budget
	// SharedDeposits says that calls deposit into Budget elsewhere (a
	// retrier sharing it), so Do only withdraws.
	SharedDeposits bool
	// Gate, if set, must return true for a hedge to start (a guard passes
	// "the breaker is closed"); a hedge it refuses is counted as
	// gate-stopped.
	Gate func() bool
	// OnHedge, if set, is called (in the goroutine of the hedge, before it
	// runs) with the call's context and the hedge's number, from 1.
	OnHedge func(ctx context.Context, n int)
}

// Validate reports every invalid field of c, each named as its JSON name
// would be, joined with [errors.Join].
func (c Config) Validate() error {
	var errs []error
	if c.Delay <= 0 {
		errs = append(errs, fmt.Errorf("hedge: delay: %v must be above 0", c.Delay))
	}
	if c.Percentile != 0 && !(c.Percentile > 0 && c.Percentile < 100) {
		errs = append(errs, fmt.Errorf("hedge: percentile: %v must be above 0 and below 100", c.Percentile))
	}
	if c.MaxHedges < 0 || c.MaxHedges > MaxHedgesLimit {
		errs = append(errs, fmt.Errorf("hedge: maxHedges: %d must be between 1 and %d", c.MaxHedges, MaxHedgesLimit))
	}
	if c.MinSamples < 0 {
		errs = append(errs, fmt.Errorf("hedge: minSamples: %d must not be negative", c.MinSamples))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("hedge: window: %d must not be negative", c.Window))
	}
	return errors.Join(errs...)
}

// Stats are a Hedger's cumulative counters.
type Stats struct {
	// Calls counts calls Do handled.
	Calls uint64
	// Started counts hedges started.
	Started uint64
	// Won counts calls a hedge answered (a hedge's answer came first).
	Won uint64
	// Cancelled counts attempts still running when another attempt's
	// answer won, cancelled through their context: losing hedges and
	// losing first attempts.
	Cancelled uint64
	// BudgetStopped counts hedges the budget refused.
	BudgetStopped uint64
	// GateStopped counts hedges the gate refused (the breaker was not
	// closed).
	GateStopped uint64
	// Delay is the hedge delay in force.
	Delay time.Duration
}

// Hedger runs a call and, when it has not answered after a delay, starts
// another attempt of it, up to MaxHedges, as in "The Tail at Scale": the
// first successful answer wins and the attempts still running are
// cancelled through their context. An attempt that fails does not win;
// when every attempt has failed, Do returns the last error.
//
// The delay is fixed (Config.Delay) or, with Config.Percentile, a live
// percentile of recent attempt latencies kept in a bounded lock-free
// [Sketch], floored at Delay. Hedges spend a [Budget] (pass the guard's
// retry budget) and stop while a Gate is shut (pass "the breaker is
// closed"), so that hedging cannot multiply load when the dependency is
// slow for everyone.
//
// Only idempotent calls may be hedged: two attempts may both reach the
// dependency. The first attempt runs on the caller's goroutine; each hedge
// runs on a goroutine of its own, which ends when its attempt returns. The
// first hedges of all calls are fired by one watcher per Hedger (see the
// package documentation, Cost); inside a testing/synctest bubble, a
// Hedger's calls must all run in the bubble. fn
// must honour its context: Do returns once the first attempt has returned,
// so a first attempt that ignores cancellation holds the caller even when
// a hedge has answered. A hedge that ignores cancellation finishes in the
// background; its result is dropped.
//
// A Hedger is safe for concurrent use. Create it with New; the zero value
// is not usable.
type Hedger struct {
	cfg    Config
	sketch *Sketch // nil for a fixed delay
	q      float64
	delay  atomic.Int64 // the current delay, nanoseconds
	epoch  time.Time    // the start of the clock of now

	table    armTable    // calls waiting for their first hedge (watch.go)
	watching atomic.Bool // the watcher runs

	started, won, cancelled, budgetStopped, gateStopped atomic.Uint64
}

// New returns a Hedger for cfg with defaults applied, or the error of
// [Config.Validate].
func New(cfg Config) (*Hedger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxHedges == 0 {
		cfg.MaxHedges = DefaultMaxHedges
	}
	if cfg.MinSamples == 0 {
		cfg.MinSamples = DefaultMinSamples
	}
	h := &Hedger{cfg: cfg, epoch: time.Now()}
	h.delay.Store(int64(cfg.Delay))
	if cfg.Percentile > 0 {
		h.sketch = NewSketch(cfg.Window)
		h.q = cfg.Percentile / 100
	}
	return h, nil
}

// Config returns the configuration with defaults applied.
func (h *Hedger) Config() Config { return h.cfg }

// Delay returns the delay the next call will wait before its first hedge.
func (h *Hedger) Delay() time.Duration { return time.Duration(h.delay.Load()) }

// Sketch returns the latency sketch of a percentile delay, or nil.
func (h *Hedger) Sketch() *Sketch { return h.sketch }

// Stats returns the counters.
func (h *Hedger) Stats() Stats {
	return Stats{
		Calls:         h.calls(),
		Started:       h.started.Load(),
		Won:           h.won.Load(),
		Cancelled:     h.cancelled.Load(),
		BudgetStopped: h.budgetStopped.Load(),
		GateStopped:   h.gateStopped.Load(),
		Delay:         h.Delay(),
	}
}

// calls sums the calls counted in the table's blocks.
func (h *Hedger) calls() uint64 {
	var n uint64
	for i := range h.table.blocks {
		n += h.table.blocks[i].calls.Load()
	}
	return n
}

// observe records an attempt's latency for a percentile delay.
func (h *Hedger) observe(d time.Duration) {
	s := h.sketch
	s.Record(d)
	n := s.Count()
	if n < int64(h.cfg.MinSamples) || n&(recomputeEvery-1) != 0 {
		return
	}
	if p, ok := s.Quantile(h.q); ok {
		h.delay.Store(int64(max(p, h.cfg.Delay)))
	}
}

// Run is [Do] for a function without a result.
func (h *Hedger) Run(ctx context.Context, fn func(context.Context) error) error {
	_, err := Do(ctx, h, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// Runner is one attempt of a call, for [DoRunner]: a value whose Run method
// runs the attempt, so that a caller whose attempt needs a few variables
// passes them in a struct (kept inside the call's own allocation) instead
// of a closure (an allocation of its own).
type Runner[T any] interface {
	Run(ctx context.Context) (T, error)
}

// Func is a function as a [Runner].
type Func[T any] func(context.Context) (T, error)

// Run calls f.
func (f Func[T]) Run(ctx context.Context) (T, error) { return f(ctx) }

// call is the state one Do shares with the watcher and its hedges: what
// every call needs, kept small since it is the call's one allocation; the
// state of hedges and answers is made when a hedge may start.
type call[T any, R Runner[T]] struct {
	armed       // the call as the watcher sees it
	first first // the first attempt's context
	h     *Hedger
	r     R
	drop  func(T) // nil, or releases a value Do does not return

	mu sync.Mutex // guards st and its fields
	st *hedging[T]
}

// hedging is the state of a call that a hedge may join, guarded by its
// call's mu.
type hedging[T any] struct {
	// timer fires the hedges after the first when the watcher fired the
	// first, or every hedge when the call found no free slot.
	timer *time.Timer
	// wake receives one token from each hedge as it ends; it has room for
	// all of them, so a hedge never blocks on it. Made with the first
	// hedge.
	wake     chan struct{}
	cancels  []context.CancelFunc
	launched int  // hedges started
	ended    int  // hedges ended
	running  int  // attempts running, the first one included
	closed   bool // no more hedges start
	won      bool // an answer has won
	winner   outcome[T]
	failed   outcome[T] // the latest failure, returned if nothing wins
	hasFail  bool
}

// state returns the call's hedging state, making it on first use. Called
// with c.mu held.
func (c *call[T, R]) state() *hedging[T] {
	if c.st == nil {
		c.st = &hedging[T]{running: 1}
	}
	return c.st
}

type outcome[T any] struct {
	v   T
	err error
	n   int // 0 for the first attempt, then the hedge number
}

// Do runs fn, hedged by h; see [Hedger]. A nil h runs fn once. When every
// attempt fails, Do returns the value and error of the one that failed
// last.
func Do[T any](ctx context.Context, h *Hedger, fn func(context.Context) (T, error)) (T, error) {
	return DoRunner(ctx, h, Func[T](fn), nil)
}

// DoDrop is [Do] for values that hold resources (an HTTP response and its
// body): drop, if not nil, is called once with the value of every attempt
// that Do does not return, a losing success or an earlier failure, so that
// it can be released. It may be called after DoDrop has returned, from the
// goroutine of a hedge that lost.
func DoDrop[T any](ctx context.Context, h *Hedger, fn func(context.Context) (T, error), drop func(T)) (T, error) {
	return DoRunner(ctx, h, Func[T](fn), drop)
}

// DoRunner is [DoDrop] for an attempt given as a [Runner]. A call that
// answers before the hedge delay costs one allocation (the call's state,
// r included, and the first attempt's context) and no timer: the call
// waits in the hedger's table of armed calls, where the hedger's watcher
// finds it if it is still running at the delay (see [Hedger]).
func DoRunner[T any, R Runner[T]](ctx context.Context, h *Hedger, r R, drop func(T)) (T, error) {
	if h == nil {
		return r.Run(ctx)
	}
	if b := h.cfg.Budget; b != nil && !h.cfg.SharedDeposits {
		b.Deposit()
	}
	c := &call[T, R]{h: h, r: r, drop: drop}
	c.first.parent = ctx
	c.armed.call = c
	start := h.now()
	d := h.Delay()
	c.deadline = start + int64(d)
	slot := h.arm(&c.armed)
	if slot == nil {
		c.mu.Lock() // fire may run before AfterFunc returns
		c.state().timer = time.AfterFunc(d, c.fire)
		c.mu.Unlock()
	}
	v, err := r.Run(&c.first)
	if h.sketch != nil {
		h.observe(time.Duration(h.now() - start))
	}
	if slot != nil && slot.CompareAndSwap(&c.armed, nil) {
		// The watcher never took the call: no hedge started.
		c.first.cancel()
		return v, err
	}
	v, err = c.finish(outcome[T]{v: v, err: err})
	c.first.cancel()
	return v, err
}

// fire starts the next hedge, unless the call is over, or the gate or the
// budget refuses it.
func (c *call[T, R]) fire() {
	h := c.h
	c.mu.Lock()
	st := c.state()
	if st.closed || st.won || st.launched >= h.cfg.MaxHedges {
		c.mu.Unlock()
		return
	}
	if h.cfg.Gate != nil && !h.cfg.Gate() {
		st.closed = true
		c.mu.Unlock()
		h.gateStopped.Add(1)
		return
	}
	if b := h.cfg.Budget; b != nil && !b.Withdraw() {
		st.closed = true
		c.mu.Unlock()
		h.budgetStopped.Add(1)
		return
	}
	if st.wake == nil {
		st.wake = make(chan struct{}, h.cfg.MaxHedges)
	}
	st.launched++
	st.running++
	n := st.launched
	hctx, cancel := context.WithCancel(c.first.parent)
	st.cancels = append(st.cancels, cancel)
	if n < h.cfg.MaxHedges {
		if st.timer == nil { // the watcher fired the first hedge
			st.timer = time.AfterFunc(h.Delay(), c.fire)
		} else {
			st.timer.Reset(h.Delay())
		}
	}
	c.mu.Unlock()
	h.started.Add(1)
	go c.hedge(hctx, cancel, n, st.wake)
}

// hedge runs hedge number n.
func (c *call[T, R]) hedge(ctx context.Context, cancel context.CancelFunc, n int, wake chan<- struct{}) {
	defer cancel()
	h := c.h
	if h.cfg.OnHedge != nil {
		h.cfg.OnHedge(c.first.parent, n)
	}
	var start int64
	if h.sketch != nil {
		start = h.now()
	}
	v, err := c.r.Run(ctx)
	if h.sketch != nil {
		h.observe(time.Duration(h.now() - start))
	}
	o := outcome[T]{v: v, err: err, n: n}
	c.mu.Lock()
	st := c.st
	st.running--
	st.ended++
	var lost outcome[T]
	var drop bool
	switch {
	case st.won:
		lost, drop = o, true
	case err == nil:
		lost, drop = c.win(o)
	default:
		lost, drop = c.fail(o)
	}
	c.mu.Unlock()
	wake <- struct{}{}
	c.release(lost, drop)
}

// fail records o as the latest failure and returns the one it replaces,
// if any, for release. Called with c.mu held.
func (c *call[T, R]) fail(o outcome[T]) (outcome[T], bool) {
	st := c.st
	lost, had := st.failed, st.hasFail
	st.failed, st.hasFail = o, true
	return lost, had
}

// win records o as the answer, cancels every other attempt, and returns
// the failure it replaces, if any, for release. Called with c.mu held.
func (c *call[T, R]) win(o outcome[T]) (outcome[T], bool) {
	st := c.st
	st.won, st.closed, st.winner = true, true, o
	c.h.cancelled.Add(uint64(st.running))
	if o.n > 0 {
		c.h.won.Add(1)
		c.first.cancel()
	}
	for i, cancel := range st.cancels {
		if i+1 != o.n {
			cancel()
		}
	}
	lost, had := st.failed, st.hasFail
	st.failed, st.hasFail = outcome[T]{}, false
	return lost, had
}

// release drops the value of an outcome Do will not return.
func (c *call[T, R]) release(o outcome[T], drop bool) {
	if drop && c.drop != nil {
		c.drop(o.v)
	}
}

// finish settles the call once the first attempt returned o, when a hedge
// may have started.
func (c *call[T, R]) finish(o outcome[T]) (T, error) {
	c.mu.Lock()
	st := c.state()
	if st.timer != nil {
		st.timer.Stop()
	}
	st.running--
	st.closed = true
	var lost outcome[T]
	var drop bool
	switch {
	case st.won: // a hedge answered first
		lost, drop = o, true
	case o.err == nil:
		lost, drop = c.win(o)
	default:
		// The first attempt failed: wait for the hedges still running.
		lost, drop = c.fail(o)
		for !st.won && st.ended < st.launched {
			c.mu.Unlock()
			c.release(lost, drop)
			drop = false
			<-st.wake
			c.mu.Lock()
		}
	}
	res := st.winner
	if !st.won {
		res = st.failed
	}
	c.mu.Unlock()
	c.release(lost, drop)
	return res.v, res.err
}
