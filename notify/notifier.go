package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Notifier defaults.
const (
	// DefaultInboxSize bounds the state changes waiting for the
	// notifier's dispatcher.
	DefaultInboxSize = 1024
	// DefaultDrainTimeout is how long Run lets queued events go out after
	// its context ends.
	DefaultDrainTimeout = 5 * time.Second
)

// ErrNotStarted is returned by Close for a notifier that was never
// started, and ErrStarted by Start for one started before.
var (
	ErrNotStarted = errors.New("notify: notifier not started")
	ErrStarted    = errors.New("notify: notifier already started")
)

// Notifier sends notifications when guards of a registry change state.
//
// New subscribes it to the registry's state changes; the subscription
// (a hook) only puts the change in a bounded inbox, without blocking and
// without allocating, so that notifications never slow the guarded calls.
// The notifier's own goroutines, started by Start (or Run), do the rest: a
// dispatcher applies the rules and hands events to each channel's bounded
// queue, and one worker per channel delivers them, in order, with its rate
// limit and retries. A slow or dead destination fills its own queue and
// nothing else.
//
// A Notifier is safe for concurrent use.
type Notifier struct {
	removeHooks func() // detaches from the registry on Close
	reg         *core.Registry
	trackers    []*tracker
	channels    []*channel
	dash        string
	drain       time.Duration
	dead        DeadLetterSink

	inbox  chan change
	drops  chan struct{} // signalled (without blocking) when the hook drops
	closed atomic.Bool
	ctr    counters
	held   atomic.Int64
	seq    uint64 // dispatcher only

	mu       sync.Mutex
	state    int // 0 new, 1 started, 2 closed
	stop     chan struct{}
	closing  chan struct{}
	abandon  context.CancelFunc
	dispDone chan struct{}
	wg       sync.WaitGroup
}

// counters are the notifier's own statistics.
type counters struct {
	received, dropped, events, short, suppressed, discarded atomic.Uint64
}

// Stats counts a notifier's work since New.
type Stats struct {
	// Received counts state changes the hook put in the inbox.
	Received uint64
	// Dropped counts state changes the hook dropped because the inbox was
	// full (or the notifier was closed).
	Dropped uint64
	// Events counts events emitted to channels (one per rule, whatever the
	// number of channels).
	Events uint64
	// Short counts incidents that ended within their rule's MinOpen and so
	// sent nothing.
	Short uint64
	// Suppressed counts changes not sent as duplicates (DedupWindow) or
	// during a MinOpen hold.
	Suppressed uint64
	// Held is the number of incidents whose first event waits for MinOpen.
	Held int
	// Discarded counts held events dropped by Close.
	Discarded uint64
	// Channels has one entry per channel, in the order they were added.
	Channels []ChannelStats
}

// Option configures a Notifier.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type channelSpec struct {
	name string
	ch   Channel
	opts []ChannelOption
}

type config struct {
	rules    []Rule
	channels []channelSpec
	dead     DeadLetterSink
	dash     string
	inbox    int
	drain    time.Duration
	logger   *slog.Logger
}

// WithRules adds rules. Every rule is applied to every change (two rules
// selecting a guard send two events). Without rules, one rule with the
// defaults applies: every guard, DefaultKinds, every channel.
func WithRules(rules ...Rule) Option {
	return optionFunc(func(c *config) { c.rules = append(c.rules, rules...) })
}

// WithChannel adds a channel called name (names must be unique; rules refer
// to them) with its own options: QueueSize, RateLimit, Retries, Timeout.
func WithChannel(name string, ch Channel, opts ...ChannelOption) Option {
	return optionFunc(func(c *config) { c.channels = append(c.channels, channelSpec{name, ch, opts}) })
}

// WithDeadLetters sets where undelivered events go. The default logs them
// at error level (warn for ErrClosed) on the notifier's logger. Whatever
// the sink, a dead letter's Err names URLs by scheme and host only: when
// the channel's error names a URL, Err is an error with the URLs reduced
// that wraps it.
func WithDeadLetters(s DeadLetterSink) Option {
	return optionFunc(func(c *config) { c.dead = s })
}

// WithDashboardURL sets the link each event carries (Event.DashboardURL):
// tmpl with "{guard}" replaced by the guard's name, path-escaped, such as
// "https://ops.example.com/breakerbox/?guard={guard}".
func WithDashboardURL(tmpl string) Option {
	return optionFunc(func(c *config) { c.dash = tmpl })
}

// WithInboxSize bounds the inbox of state changes (default
// DefaultInboxSize). When it is full, the hook drops the change and counts
// it in Stats.Dropped; the dispatcher then reads the guards' present states
// to end incidents whose ending it missed.
func WithInboxSize(n int) Option {
	return optionFunc(func(c *config) { c.inbox = n })
}

// WithDrainTimeout sets how long Run lets queued events go out once its
// context ends (default DefaultDrainTimeout).
func WithDrainTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.drain = d })
}

// WithLogger sets the logger of the default dead-letter sink (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// New returns a notifier for reg's guards and subscribes it to their state
// changes (reg.AddHooks). Changes are kept in the inbox until Start. It
// fails, naming the field, for a rule or channel option with an impossible
// value, a rule naming an unknown channel, or no channel at all.
func New(reg *core.Registry, opts ...Option) (*Notifier, error) {
	if reg == nil {
		return nil, errors.New("notify: registry is nil")
	}
	c := config{inbox: DefaultInboxSize, drain: DefaultDrainTimeout}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.inbox < 1 {
		return nil, fmt.Errorf("notify: inboxSize: %d must be at least 1", c.inbox)
	}
	if c.drain < 0 {
		return nil, fmt.Errorf("notify: drainTimeout: %s must not be negative", c.drain)
	}
	if c.dash != "" {
		if _, err := url.Parse(strings.ReplaceAll(c.dash, "{guard}", "g")); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the *url.Error quotes the whole URL
			}
			return nil, fmt.Errorf("notify: dashboardURL: %q is not a URL (shown as scheme://host only): %w", redactURL(c.dash), err)
		}
	}
	if len(c.channels) == 0 {
		return nil, errors.New("notify: channels: none given (use WithChannel)")
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.dead == nil {
		c.dead = logDeadLetters(c.logger)
	}
	n := &Notifier{reg: reg, dash: c.dash, drain: c.drain, dead: c.dead, inbox: make(chan change, c.inbox), drops: make(chan struct{}, 1)}
	dead := func(d DeadLetter) {
		defer func() { _ = recover() }()
		d.Err = redactErr(d.Err) // whatever the channel, no URL's path, query or user info
		n.dead.DeadLetter(d)
	}
	byName := make(map[string]*channel)
	for _, s := range c.channels {
		if s.name == "" {
			return nil, errors.New("notify: channel name must not be empty")
		}
		if s.ch == nil {
			return nil, fmt.Errorf("notify: channel %q: channel is nil", s.name)
		}
		if _, dup := byName[s.name]; dup {
			return nil, fmt.Errorf("notify: channel %q: name used twice", s.name)
		}
		if v, ok := s.ch.(interface{ validate() error }); ok {
			if err := v.validate(); err != nil {
				return nil, fmt.Errorf("notify: channel %q: %w", s.name, err)
			}
		}
		ch, err := newChannel(s.name, s.ch, s.opts, dead)
		if err != nil {
			return nil, fmt.Errorf("notify: channel %q: %w", s.name, err)
		}
		byName[s.name] = ch
		n.channels = append(n.channels, ch)
	}
	rules := c.rules
	if len(rules) == 0 {
		rules = []Rule{{Name: "default"}}
	}
	for i, r := range rules {
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule%d", i)
		}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("notify: rule %q: %w", r.Name, err)
		}
		chans := n.channels
		if len(r.Channels) > 0 {
			chans = nil
			for _, name := range r.Channels {
				ch, ok := byName[name]
				if !ok {
					return nil, fmt.Errorf("notify: rule %q: channels: %q is not a channel (see WithChannel)", r.Name, name)
				}
				chans = append(chans, ch)
			}
		}
		n.trackers = append(n.trackers, newTracker(r, chans, &n.ctr))
	}
	n.removeHooks = reg.AddHooks(core.Hooks{OnStateChange: n.onStateChange})
	return n, nil
}

// onStateChange is the registry hook: it queues the change without
// blocking or allocating, or drops and counts it when the inbox is full.
func (n *Notifier) onStateChange(_ context.Context, e core.StateChange) {
	if n.closed.Load() {
		n.ctr.dropped.Add(1)
		return
	}
	select {
	case n.inbox <- change{guard: e.Guard, tr: e.Transition}:
		n.ctr.received.Add(1)
	default:
		n.ctr.dropped.Add(1)
		select {
		case n.drops <- struct{}{}:
		default:
		}
	}
}

// Start starts the notifier's goroutines: the dispatcher and one worker
// per channel. Stop them with Close.
func (n *Notifier) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != 0 {
		return ErrStarted
	}
	n.state = 1
	n.stop = make(chan struct{})
	n.closing = make(chan struct{})
	n.dispDone = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	n.abandon = cancel
	go n.dispatch()
	for _, ch := range n.channels {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ch.run(ctx, n.closing)
		}()
	}
	return nil
}

// Close stops the notifier: the hook stops taking changes, the dispatcher
// processes the changes already in the inbox (events still held for
// MinOpen are discarded, counted in Stats.Discarded), and the channels
// deliver what is queued, retries included, until ctx ends; whatever is
// left then goes to the dead-letter sink with ErrClosed and Close returns
// ctx's error. Close returns when every goroutine has stopped.
func (n *Notifier) Close(ctx context.Context) error {
	n.removeHooks()
	n.mu.Lock()
	if n.state != 1 {
		st := n.state
		n.state = 2
		n.closed.Store(true)
		n.mu.Unlock()
		if st == 0 {
			return ErrNotStarted
		}
		return nil
	}
	n.state = 2
	n.closed.Store(true)
	n.mu.Unlock()

	close(n.stop)
	<-n.dispDone
	close(n.closing)
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		n.abandon()
		<-done
	}
	n.abandon()
	return err
}

// Run starts the notifier, waits for ctx to end, and closes it, letting
// queued events go out for up to the drain timeout (WithDrainTimeout).
// It returns nil after a complete drain, else context.DeadlineExceeded.
func (n *Notifier) Run(ctx context.Context) error {
	if err := n.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), n.drain)
	defer cancel()
	return n.Close(dctx)
}

// Stats returns the notifier's counters.
func (n *Notifier) Stats() Stats {
	s := Stats{
		Received:   n.ctr.received.Load(),
		Dropped:    n.ctr.dropped.Load(),
		Events:     n.ctr.events.Load(),
		Short:      n.ctr.short.Load(),
		Suppressed: n.ctr.suppressed.Load(),
		Discarded:  n.ctr.discarded.Load(),
		Held:       int(n.held.Load()),
	}
	for _, ch := range n.channels {
		s.Channels = append(s.Channels, ch.stats())
	}
	return s
}

// dispatch is the dispatcher goroutine: it applies the rules to the
// changes in the inbox, releases held events when their MinOpen passes,
// and hands events to the channels.
func (n *Notifier) dispatch() {
	defer close(n.dispDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var dropped uint64 // so that drops before Start are reconciled at once
	for {
		select {
		case c := <-n.inbox:
			n.handle(c)
		case <-timer.C:
		case <-n.drops:
		case <-n.stop:
			n.drainInbox()
			n.due(time.Now())
			for _, t := range n.trackers {
				n.ctr.discarded.Add(uint64(t.held()))
			}
			n.held.Store(0)
			return
		}
		// Take every change already waiting before releasing held
		// events, so that a close queued behind an open is seen first.
		n.drainInbox()
		if d := n.ctr.dropped.Load(); d != dropped {
			dropped = d
			n.reconcile()
		}
		now := time.Now()
		n.due(now)
		timer.Stop()
		var next time.Time
		held := 0
		for _, t := range n.trackers {
			held += t.held()
			if at, ok := t.next(); ok && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		n.held.Store(int64(held))
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
		}
	}
}

// drainInbox handles every change waiting in the inbox.
func (n *Notifier) drainInbox() {
	for {
		select {
		case c := <-n.inbox:
			n.handle(c)
		default:
			return
		}
	}
}

// handle applies every rule to one change.
func (n *Notifier) handle(c change) {
	var tags []string
	if g, ok := n.reg.Lookup(c.guard); ok {
		tags = g.Tags()
	}
	for _, t := range n.trackers {
		if !t.selects(c.guard, tags) {
			continue
		}
		t.observe(c, func(e Event) { n.emit(t, e, tags) })
	}
}

func (n *Notifier) due(now time.Time) {
	for _, t := range n.trackers {
		t.due(now, func(e Event) {
			var tags []string
			if g, ok := n.reg.Lookup(e.Guard); ok {
				tags = g.Tags()
			}
			n.emit(t, e, tags)
		})
	}
}

// reconcile ends the incidents of guards that admit calls again, after the
// hook dropped changes (one of them may have been the ending).
func (n *Notifier) reconcile() {
	for _, t := range n.trackers {
		for name := range t.incidents {
			g, ok := n.reg.Lookup(name)
			if !ok {
				continue
			}
			st := g.Breaker().State()
			if rejecting(st) {
				continue
			}
			snap := g.Breaker().Snapshot()
			tr := snap.LastTransition
			if tr.At.IsZero() {
				tr.At = time.Now()
			}
			tr.To = st
			if tr.Reason == "" {
				tr.Reason = "state read after dropped changes"
			}
			t.observe(change{guard: name, tr: tr}, func(e Event) { n.emit(t, e, g.Tags()) })
		}
	}
}

// emit completes an event and hands it to the rule's channels.
func (n *Notifier) emit(t *tracker, e Event, tags []string) {
	n.seq++
	e.ID = newID()
	e.Sequence = n.seq
	e.Tags = tags
	if n.dash != "" {
		e.DashboardURL = strings.ReplaceAll(n.dash, "{guard}", url.PathEscape(e.Guard))
	}
	if e.To == breaker.Open {
		if g, ok := n.reg.Lookup(e.Guard); ok {
			if snap := g.Breaker().Snapshot(); snap.State == e.To {
				e.OpenUntil = snap.OpenUntil
			}
		}
	}
	n.ctr.events.Add(1)
	for _, ch := range t.channels {
		ch.enqueue(e)
	}
}

// newID returns 16 random bytes in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
