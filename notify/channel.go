package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// Channel delivers events to one destination: a webhook, a Slack channel,
// a mailbox, a log. The notifier calls Send from the channel's own
// goroutine, one event at a time, in order; Send should respect ctx (it
// carries the attempt's timeout). A nil error means delivered. Any other
// error is retried with backoff, honouring a retry-after hint on the error
// (a method RetryAfter() time.Duration), unless it is marked with
// Permanent; when the retries are spent the event goes to the dead-letter
// sink.
type Channel interface {
	Send(ctx context.Context, e *Event) error
}

// ChannelFunc adapts a function to Channel.
type ChannelFunc func(ctx context.Context, e *Event) error

// Send calls f(ctx, e).
func (f ChannelFunc) Send(ctx context.Context, e *Event) error { return f(ctx, e) }

// Permanent marks err as not worth retrying (a 4xx answer, a rejected
// address): the event goes to the dead-letter sink at once. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

var (
	// ErrQueueFull is the dead-letter error of an event dropped from a
	// channel's full queue to make room for a newer one.
	ErrQueueFull = errors.New("notify: channel queue full")
	// ErrClosed is the dead-letter error of an event still queued, or
	// being retried, when Close gave up waiting for it.
	ErrClosed = errors.New("notify: notifier closed before delivery")
)

// Channel defaults, applied when WithChannel's options leave them unset.
const (
	DefaultQueueSize   = 256
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 5
)

// DefaultRateLimit is a channel's rate limit unless RateLimit says
// otherwise: 30 events a minute, 10 at once.
var DefaultRateLimit = ratelimit.Config{Limit: 30, Per: time.Minute, Burst: 10}

// DefaultRetry is a channel's retry schedule unless Retries says
// otherwise: 5 attempts, the first retry after up to 1s, growing to at most
// 1m (full jitter).
var DefaultRetry = retry.Config{MaxAttempts: DefaultMaxAttempts, InitialDelay: time.Second, MaxDelay: time.Minute}

// ChannelOption configures one channel (see WithChannel).
type ChannelOption interface{ applyChannel(*channelConfig) }

type channelOptionFunc func(*channelConfig)

func (f channelOptionFunc) applyChannel(c *channelConfig) { f(c) }

type channelConfig struct {
	queue   int
	limit   ratelimit.Config
	retry   retry.Config
	timeout time.Duration
}

// QueueSize bounds the channel's queue of events waiting for delivery
// (default DefaultQueueSize). When the queue is full, the oldest waiting
// event is dropped to make room for the new one: the newer event describes
// the guard's present state. A dropped event goes to the dead-letter sink
// with ErrQueueFull and is counted in ChannelStats.Dropped.
func QueueSize(n int) ChannelOption {
	return channelOptionFunc(func(c *channelConfig) { c.queue = n })
}

// RateLimit limits how fast the channel delivers (default
// DefaultRateLimit). Events over the limit wait in the queue, in order;
// only first attempts count, not retries. A Config with Limit 0 turns the
// limit off.
func RateLimit(cfg ratelimit.Config) ChannelOption {
	return channelOptionFunc(func(c *channelConfig) { c.limit = cfg })
}

// Retries sets the channel's retry schedule (default DefaultRetry):
// MaxAttempts, the backoff and its jitter. RetryOn, Budget and OnRetry are
// ignored: every error but a Permanent one is retried.
func Retries(cfg retry.Config) ChannelOption {
	return channelOptionFunc(func(c *channelConfig) { c.retry = cfg })
}

// Timeout bounds each delivery attempt (default DefaultTimeout).
func Timeout(d time.Duration) ChannelOption {
	return channelOptionFunc(func(c *channelConfig) { c.timeout = d })
}

func (c *channelConfig) validate() error {
	if c.queue < 1 {
		return fmt.Errorf("queueSize: %d must be at least 1", c.queue)
	}
	if c.timeout <= 0 {
		return fmt.Errorf("timeout: %s must be positive", c.timeout)
	}
	if c.limit.Limit != 0 {
		if err := c.limit.Validate(); err != nil {
			return fmt.Errorf("rateLimit: %w", err)
		}
	}
	return c.retry.Validate()
}

// channel is a Channel with its queue, worker, rate limit and retries.
type channel struct {
	name    string
	ch      Channel
	cfg     channelConfig
	limiter ratelimit.Limiter // nil: no limit
	retrier *retry.Retrier
	dead    func(DeadLetter)

	mu   sync.Mutex
	buf  []Event // ring
	head int
	n    int
	wake chan struct{}

	enqueued, delivered, attempts, retries atomic.Uint64
	failed, dropped, abandoned, limited    atomic.Uint64
}

func newChannel(name string, ch Channel, opts []ChannelOption, dead func(DeadLetter)) (*channel, error) {
	cfg := channelConfig{queue: DefaultQueueSize, limit: DefaultRateLimit, retry: DefaultRetry, timeout: DefaultTimeout}
	for _, o := range opts {
		if o != nil {
			o.applyChannel(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &channel{name: name, ch: ch, cfg: cfg, dead: dead, buf: make([]Event, cfg.queue), wake: make(chan struct{}, 1)}
	if cfg.limit.Limit != 0 {
		l, err := ratelimit.New(cfg.limit)
		if err != nil {
			return nil, fmt.Errorf("rateLimit: %w", err)
		}
		c.limiter = l
	}
	rc := cfg.retry
	rc.RetryOn = func(err error) bool { return !IsPermanent(err) }
	rc.Budget = nil
	rc.OnRetry = func(context.Context, retry.Attempt) { c.retries.Add(1) }
	r, err := retry.New(rc)
	if err != nil {
		return nil, err
	}
	c.retrier = r
	return c, nil
}

// enqueue adds e to the queue, dropping the oldest event if it is full.
// It never blocks.
func (c *channel) enqueue(e Event) {
	var old Event
	c.mu.Lock()
	full := c.n == len(c.buf)
	if full {
		old = c.buf[c.head]
		c.buf[c.head] = Event{}
		c.head = (c.head + 1) % len(c.buf)
		c.n--
	}
	c.buf[(c.head+c.n)%len(c.buf)] = e
	c.n++
	c.mu.Unlock()
	c.enqueued.Add(1)
	if full {
		c.dropped.Add(1)
		c.dead(DeadLetter{Channel: c.name, Event: old, Err: ErrQueueFull, At: time.Now()})
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued event.
func (c *channel) pop() (Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return Event{}, false
	}
	e := c.buf[c.head]
	c.buf[c.head] = Event{}
	c.head = (c.head + 1) % len(c.buf)
	c.n--
	return e, true
}

func (c *channel) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// run delivers queued events until closing is closed and the queue is
// empty, or until ctx ends; then every event left goes to the dead-letter
// sink with ErrClosed.
func (c *channel) run(ctx context.Context, closing <-chan struct{}) {
	defer func() {
		for {
			e, ok := c.pop()
			if !ok {
				return
			}
			c.abandoned.Add(1)
			c.dead(DeadLetter{Channel: c.name, Event: e, Err: ErrClosed, At: time.Now()})
		}
	}()
	for {
		e, ok := c.pop()
		if !ok {
			select {
			case <-c.wake:
				continue
			case <-ctx.Done():
				return
			case <-closing:
				if e, ok = c.pop(); !ok {
					return
				}
			}
		}
		c.deliver(ctx, &e)
	}
}

// deliver sends e with retries, waiting for the rate limit first.
func (c *channel) deliver(ctx context.Context, e *Event) {
	if c.limiter != nil && !c.limiter.Allow() {
		c.limited.Add(1)
		if err := c.limiter.Wait(ctx); err != nil {
			c.abandoned.Add(1)
			c.dead(DeadLetter{Channel: c.name, Event: *e, Err: ErrClosed, At: time.Now()})
			return
		}
	}
	attempts := 0
	err := c.retrier.Do(ctx, func(ctx context.Context) error {
		attempts++
		c.attempts.Add(1)
		actx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		defer cancel()
		return c.send(actx, e)
	})
	if err == nil {
		c.delivered.Add(1)
		return
	}
	if ctx.Err() != nil {
		c.abandoned.Add(1)
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	} else {
		c.failed.Add(1)
	}
	c.dead(DeadLetter{Channel: c.name, Event: *e, Attempts: attempts, Err: err, At: time.Now()})
}

// send calls the channel, turning a panic into a permanent error.
func (c *channel) send(ctx context.Context, e *Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("notify: channel %q panicked: %v", c.name, r))
		}
	}()
	return c.ch.Send(ctx, e)
}

func (c *channel) stats() ChannelStats {
	return ChannelStats{
		Name:        c.name,
		Queued:      c.queued(),
		Enqueued:    c.enqueued.Load(),
		Delivered:   c.delivered.Load(),
		Attempts:    c.attempts.Load(),
		Retries:     c.retries.Load(),
		Failed:      c.failed.Load(),
		Dropped:     c.dropped.Load(),
		Abandoned:   c.abandoned.Load(),
		RateLimited: c.limited.Load(),
	}
}

// ChannelStats counts one channel's deliveries.
type ChannelStats struct {
	Name string
	// Queued is the number of events waiting now (at most the queue size).
	Queued int
	// Enqueued counts events given to the channel.
	Enqueued uint64
	// Delivered counts events the channel accepted.
	Delivered uint64
	// Attempts counts calls to Send; Retries the attempts after a first.
	Attempts, Retries uint64
	// Failed counts events that went to the dead-letter sink after their
	// last attempt failed (or a permanent error).
	Failed uint64
	// Dropped counts events dropped from a full queue (ErrQueueFull).
	Dropped uint64
	// Abandoned counts events left undelivered when Close gave up
	// (ErrClosed).
	Abandoned uint64
	// RateLimited counts events that waited for the rate limit.
	RateLimited uint64
}
