package datadog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/metrics"
)

// Exporter pushes a registry's guards to DogStatsD through a statsd client:
// counts (the increase of each cumulative counter since the previous push),
// gauges, a service check per guard, and an event per breaker state change.
//
// Metrics are read from the registry's Snapshot at each push, so they cost
// the guarded calls nothing. State changes reach the exporter through a
// hook that only puts them on a bounded queue: the exporter's goroutine
// sends them, and when the queue is full they are dropped and counted
// (Dropped, MetricEventsDropped), so a slow or absent agent never delays a
// call. Only WithCallDuration adds work to each call.
//
// The caller owns the exporter's life: Start runs the push loop, Close ends
// it with a last push. Flush pushes at once, for tests and shutdown hooks.
// The client is the caller's too: Close flushes it but does not close it.
// An Exporter is safe for concurrent use.
type Exporter struct {
	reg    *core.Registry
	client statsd.ClientInterface
	// removeHooks detaches the exporter from the registry on Close.
	removeHooks func()
	cfg         config

	events  chan core.StateChange
	dropped atomic.Uint64
	closed  atomic.Bool

	mu          sync.Mutex // serialises pushes and event sends; guards:
	guards      map[string]*guardState
	gen         uint64
	droppedSent uint64
	fleet       fleetState   // WithFleet
	regions     regionsState // WithRegions

	durations sync.Map // guard name -> *[3][]string, tags by breaker.Result

	windowTags [2][]string // WithWindows: the tags of the active and upcoming counts

	life     sync.Mutex // guards started
	started  bool
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	closeErr error
}

// guardState is what the exporter keeps per guard between pushes: the tags
// of each series, built once, and the counters last sent.
type guardState struct {
	policy   string
	groups   []string
	base     []string   // guard, policy, groups, WithTags
	tags     [][]string // by plan series
	prev     []uint64   // by plan series: the counts last sent
	waited   uint64
	waitTime time.Duration
	seen     uint64 // the push that last saw the guard
}

// New returns an Exporter of reg's guards to client (a *statsd.Client, or
// any statsd.ClientInterface; nil sends nothing). It registers the hooks it
// needs on reg; call Start to push on an interval.
func New(reg *core.Registry, client statsd.ClientInterface, opts ...Option) *Exporter {
	if client == nil {
		client = &statsd.NoOpClient{}
	}
	e := &Exporter{
		reg:    reg,
		client: client,
		cfg:    newConfig(opts),
		guards: map[string]*guardState{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	e.events = make(chan core.StateChange, e.cfg.queue)
	for i, state := range metrics.MaintenanceWindows().Values {
		e.windowTags[i] = append([]string{metrics.WindowState.Label + ":" + state}, e.cfg.tags...)
	}
	h := core.Hooks{OnStateChange: e.onStateChange}
	if e.cfg.callDuration {
		h.OnDone = e.onDone
	}
	e.removeHooks = reg.AddHooks(h)
	return e
}

// Start pushes every interval (WithInterval) and sends state-change events
// as they come, on a goroutine of its own, until ctx ends or Close is
// called. It returns at once. State changes from before Start wait in the
// queue. Calls after the first, or after Close, do nothing.
func (e *Exporter) Start(ctx context.Context) {
	e.life.Lock()
	defer e.life.Unlock()
	if e.started || e.closed.Load() {
		return
	}
	e.started = true
	go e.run(ctx)
}

func (e *Exporter) run(ctx context.Context) {
	defer close(e.done)
	t := time.NewTicker(e.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.stop:
			return
		case sc := <-e.events:
			e.report(e.sendEvent(sc))
		case <-t.C:
			e.report(e.push())
		}
	}
}

func (e *Exporter) report(err error) {
	if err != nil && e.cfg.onError != nil {
		e.cfg.onError(err)
	}
}

// Flush sends the queued state-change events, pushes every guard's metrics
// and service check, and flushes the client, before it returns. It reports
// the client's errors.
func (e *Exporter) Flush() error {
	return errors.Join(e.sendEvents(), e.push(), e.client.Flush())
}

// Close stops the loop started by Start, waits for it, and flushes once
// more (see Flush), returning that flush's error. From then on the hooks do
// nothing. It does not close the client. Close is idempotent.
func (e *Exporter) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		e.removeHooks()
		e.life.Lock()
		started := e.started
		e.started = true // no Start from now on
		e.life.Unlock()
		close(e.stop)
		if started {
			<-e.done
		}
		e.closeErr = e.Flush()
	})
	return e.closeErr
}

// Dropped returns how many state changes were not sent as events because
// the event queue was full.
func (e *Exporter) Dropped() uint64 { return e.dropped.Load() }

// onStateChange runs on the goroutine of the call that changed the state:
// it queues the change without ever waiting.
func (e *Exporter) onStateChange(_ context.Context, sc core.StateChange) {
	if e.closed.Load() {
		return
	}
	select {
	case e.events <- sc:
	default:
		e.dropped.Add(1)
	}
}

// onDone sends a call's duration (WithCallDuration). The client buffers
// it; the tags are built once per guard.
func (e *Exporter) onDone(_ context.Context, c core.Completion) {
	if e.closed.Load() || int(c.Result) >= 3 {
		return
	}
	_ = e.client.Distribution(MetricCallDuration, c.Latency.Seconds(), e.durationTags(c.Guard)[c.Result], 1)
}

var resultTags = [3]string{breaker.Success: "outcome:success", breaker.Failure: "outcome:failure", breaker.Ignore: "outcome:ignored"}

func (e *Exporter) durationTags(name string) *[3][]string {
	if v, ok := e.durations.Load(name); ok {
		return v.(*[3][]string)
	}
	var policy string
	var groups []string
	if g, ok := e.reg.Lookup(name); ok {
		policy, groups = g.Policy().Name, g.Tags()
	}
	base := e.baseTags(name, policy, groups)
	var tags [3][]string
	for r, t := range resultTags {
		tags[r] = slices.Concat(base, []string{t})
	}
	v, _ := e.durations.LoadOrStore(name, &tags)
	return v.(*[3][]string)
}

// sendEvents sends every queued state change.
func (e *Exporter) sendEvents() error {
	var errs sendErrors
	for {
		select {
		case sc := <-e.events:
			errs.add(e.sendEvent(sc))
		default:
			return errs.err()
		}
	}
}

// sendEvent sends one state change as an event, and the guard's service
// check at once rather than at the next push.
func (e *Exporter) sendEvent(sc core.StateChange) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var policy string
	var groups []string
	if g, ok := e.reg.Lookup(sc.Guard); ok {
		policy, groups = g.Policy().Name, g.Tags()
	}
	g := e.state(sc.Guard, policy, groups)
	var errs sendErrors
	errs.add(e.client.Event(&statsd.Event{
		Title:          fmt.Sprintf("Circuit breaker %s is %s", sc.Guard, sc.To),
		Text:           sc.Transition.String(),
		Timestamp:      sc.At,
		AggregationKey: "breakerbox:" + sc.Guard,
		AlertType:      alertType(sc.To),
		Tags:           slices.Concat(g.base, []string{"state:" + sc.To.String(), "previous_state:" + sc.From.String()}),
	}))
	errs.add(e.client.ServiceCheck(e.serviceCheck(g, sc.To, sc.Transition)))
	return errs.err()
}

func alertType(s breaker.State) statsd.EventAlertType {
	switch s {
	case breaker.Open, breaker.ForcedOpen:
		return statsd.Error
	case breaker.HalfOpen:
		return statsd.Warning
	case breaker.Closed:
		return statsd.Success
	}
	return statsd.Info
}

// ServiceCheckStatus is the status the per-guard service check reports for
// a breaker state: OK for closed, WARNING for half-open, CRITICAL for open
// and forced-open, and OK for disabled and metrics-only, which admit every
// call (the check's message names the state).
func ServiceCheckStatus(s breaker.State) statsd.ServiceCheckStatus {
	switch s {
	case breaker.Open, breaker.ForcedOpen:
		return statsd.Critical
	case breaker.HalfOpen:
		return statsd.Warn
	}
	return statsd.Ok
}

func (e *Exporter) serviceCheck(g *guardState, s breaker.State, last breaker.Transition) *statsd.ServiceCheck {
	msg := "circuit breaker " + s.String()
	if last.To == s && last.Reason != "" {
		msg += ": " + last.Reason
		if last.Actor != "" {
			msg += " (by " + last.Actor + ")"
		}
	}
	return &statsd.ServiceCheck{Name: e.cfg.serviceCheck, Status: ServiceCheckStatus(s), Message: msg, Tags: g.base}
}

// push sends every guard's counts, gauges and service check.
func (e *Exporter) push() error {
	snaps := e.reg.Snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen++
	var errs sendErrors
	buf := make([]float64, thePlan.width)
	for i := range snaps {
		s := &snaps[i]
		g := e.state(s.Name, s.Policy, s.Tags)
		g.seen = e.gen
		e.pushGuard(s, g, buf, &errs)
		errs.add(e.client.ServiceCheck(e.serviceCheck(g, s.Breaker.State, s.Breaker.LastTransition)))
	}
	for name, g := range e.guards {
		if g.seen != e.gen {
			delete(e.guards, name)
			e.durations.Delete(name)
		}
	}
	if wc := e.cfg.windows; wc != nil {
		active, upcoming := wc.WindowCounts()
		errs.add(e.client.Gauge(MetricMaintenanceWindows, float64(active), e.windowTags[0], 1))
		errs.add(e.client.Gauge(MetricMaintenanceWindows, float64(upcoming), e.windowTags[1], 1))
	}
	if e.cfg.fleet != nil {
		e.pushFleet(e.cfg.fleet, &errs)
	}
	if e.cfg.regions != nil {
		e.pushRegions(e.cfg.regions, &errs)
	}
	if d := delta(e.droppedSent, e.dropped.Load()); d > 0 {
		errs.add(e.client.Count(MetricEventsDropped, d, e.cfg.tags, 1))
		e.droppedSent += uint64(d)
	}
	return errs.err()
}

// pushGuard sends the guard's metrics, as the plan renders the table.
func (e *Exporter) pushGuard(s *core.GuardSnapshot, g *guardState, buf []float64, errs *sendErrors) {
	has := metrics.PrimitivesOf(e.reg, s)
	for t := range thePlan.table {
		m := &thePlan.table[t]
		v := buf[:m.Len()]
		if !has.Has(m.Requires) || !m.Read(s, v) {
			continue
		}
		for j, x := range v {
			k := thePlan.first[t] + j
			sr := &thePlan.series[k]
			switch sr.kind {
			case countKind:
				cur := u64(x)
				if d := delta(g.prev[k], cur); d > 0 {
					errs.add(e.client.Count(sr.name, d, g.tags[k], 1))
				}
				g.prev[k] = cur
			case gaugeKind:
				errs.add(e.client.Gauge(sr.name, x, g.tags[k], 1))
			case meanWaitKind:
				bh := s.Bulkhead
				n, wait := bh.Waited, bh.WaitTime
				if n >= g.waited && wait >= g.waitTime {
					n, wait = n-g.waited, wait-g.waitTime
				}
				if n > 0 {
					errs.add(e.client.Gauge(sr.name, wait.Seconds()/float64(n), g.tags[k], 1))
				}
				g.waited, g.waitTime = bh.Waited, bh.WaitTime
			}
		}
	}
}

// u64 converts a whole-number value to uint64, saturating.
func u64(v float64) uint64 {
	if v >= 1<<64 {
		return math.MaxUint64
	}
	return uint64(v)
}

// delta is the increase of a cumulative counter from prev to cur. A counter
// that went down belongs to a guard that was pruned and created afresh:
// all of cur is new.
func delta(prev, cur uint64) int64 {
	d := cur - prev
	if cur < prev {
		d = cur
	}
	return int64(min(d, math.MaxInt64))
}

// state returns the guard's state, creating it (and its tags) on first
// sight or when the guard was recreated with another policy or tags.
// e.mu must be held.
func (e *Exporter) state(name, policy string, groups []string) *guardState {
	g := e.guards[name]
	if g != nil && g.policy == policy && slices.Equal(g.groups, groups) {
		return g
	}
	base := e.baseTags(name, policy, groups)
	ng := &guardState{policy: policy, groups: slices.Clone(groups), base: base, prev: make([]uint64, len(thePlan.series)), seen: e.gen}
	if g != nil {
		ng.prev, ng.waited, ng.waitTime = g.prev, g.waited, g.waitTime
	}
	ng.tags = make([][]string, len(thePlan.series))
	for k, sr := range thePlan.series {
		ng.tags[k] = withTag(base, sr.tag)
	}
	e.guards[name] = ng
	return ng
}

func (e *Exporter) baseTags(name, policy string, groups []string) []string {
	base := []string{"guard:" + tagValue(name), "policy:" + tagValue(policy)}
	if e.cfg.guardTags {
		for _, t := range groups {
			base = append(base, "group:"+tagValue(t))
		}
	}
	return slices.Clip(append(base, e.cfg.tags...))
}

func withTag(base []string, tag string) []string {
	if tag == "" {
		return base
	}
	return slices.Concat(base, []string{tag})
}

// tagValue keeps a tag from breaking the DogStatsD datagram: '|' ends the
// tags, ',' separates them and a newline ends the metric.
func tagValue(s string) string {
	if !strings.ContainsAny(s, "|,\n\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '|', ',', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

// sendErrors keeps the first of the client's errors and counts them.
type sendErrors struct {
	first error
	n     int
}

func (s *sendErrors) add(err error) {
	if err == nil {
		return
	}
	if s.first == nil {
		s.first = err
	}
	s.n++
}

func (s *sendErrors) err() error {
	switch s.n {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("datadog: %w", s.first)
	}
	return fmt.Errorf("datadog: %d sends failed, the first: %w", s.n, s.first)
}
