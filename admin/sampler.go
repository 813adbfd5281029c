package admin

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// The sampler is the one goroutine a Server runs. It observes the registry
// at every ShortRollup boundary for the history and, while event streams
// are open, at every push interval for their rates; it sends every event
// of every stream, so that each stream sees the events in the order they
// were made. Hooks never block on it: they queue and wake it.

const (
	// streamBuffer is how many events a slow stream may fall behind
	// before it is dropped (its client reconnects and starts afresh).
	streamBuffer = 64
	// maxPending is how many state changes and audit records may wait for
	// the sampler; beyond that every stream is dropped, to start afresh.
	maxPending = 4096
)

// Sampler states.
const (
	samplerIdle int32 = iota
	samplerRunning
	samplerClosed
)

type stream struct {
	ch chan []byte // closed by the sampler when the stream is dropped
}

// pendingEvent is a state change or an audit record waiting to be sent.
type pendingEvent struct {
	guard   string
	t       Transition
	audit   *AuditRecord
	machine *MachineEvent // a custom state's change: machines.go
}

// infoEntry is what the sampler knows of a guard.
type infoEntry struct {
	g    *core.Guard
	info GuardInfo
}

type sampler struct {
	state  atomic.Int32
	stop   chan struct{}
	done   chan struct{} // closed when the sampler has stopped (or never will run)
	subCh  chan *stream
	unsub  chan *stream
	wake   chan struct{}
	nsubs  atomic.Int32 // streams the sampler serves (see slots for the admitted ones)
	lifeMu sync.Mutex
	slots  streamSlots

	mu       sync.Mutex
	pending  []pendingEvent
	overflow bool

	// Owned by the sampler goroutine.
	subs      map[*stream]struct{}
	infos     map[string]infoEntry
	ratesPrev map[string]tally
	ratesAt   time.Time
	lastLive  map[string]GuardLive
}

func newSampler() *sampler {
	return &sampler{
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		subCh: make(chan *stream),
		unsub: make(chan *stream),
		wake:  make(chan struct{}, 1),
		subs:  map[*stream]struct{}{},
		infos: map[string]infoEntry{},
	}
}

// Start starts the server's sampler goroutine, which keeps the rollup
// history behind the dashboard's charts and feeds the event stream. The
// server starts it on its own when it serves its first request; call Start
// right after New to keep history from then on instead. Start does nothing
// when the sampler runs already, or after Close.
func (s *Server) Start() {
	sm := s.sampler
	sm.lifeMu.Lock()
	defer sm.lifeMu.Unlock()
	if sm.state.Load() != samplerIdle {
		return
	}
	sm.state.Store(samplerRunning)
	go s.run()
}

// Close stops the sampler goroutine, ends the event streams and removes the
// server's hooks from the registry. The JSON API, the health endpoints and
// the dashboard's page keep working; the event stream answers 503 and the
// history stops. Close returns once the sampler has stopped; calling it
// again does nothing.
func (s *Server) Close() error {
	sm := s.sampler
	sm.lifeMu.Lock()
	prev := sm.state.Swap(samplerClosed)
	sm.lifeMu.Unlock()
	switch prev {
	case samplerRunning:
		close(sm.stop)
		<-sm.done
	case samplerIdle:
		close(sm.done)
	}
	s.removeHooks()
	if prev != samplerClosed {
		s.closeStore(prev == samplerRunning) // persist: historystore.go
	}
	return nil
}

// SampleAt observes every guard's counters at now and adds them to the
// rollup history, as the sampler does on its own at every ShortRollup
// boundary. It is the explicit-time way to build a history, for
// simulations and tests: observations must come in time order, and one not
// after the previous one is ignored, so a history fed with past times must
// be fed before the sampler starts. The first observation only sets the
// baseline.
func (s *Server) SampleAt(now time.Time) {
	s.hist.observe(now, s.reg.Snapshot())
}

// nextTick returns the first multiple of d after now (since the Unix
// epoch, for the durations that divide a minute).
func nextTick(now time.Time, d time.Duration) time.Time { return now.Truncate(d).Add(d) }

func (s *Server) run() {
	sm := s.sampler
	defer close(sm.done)
	s.tick(s.now()) // the baseline
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := s.now()
		next := nextTick(now, ShortRollup)
		if len(sm.subs) > 0 {
			next = minTime(next, nextTick(now, s.cfg.push))
		}
		timer.Reset(next.Sub(now))
		select {
		case <-sm.stop:
			for st := range sm.subs {
				sm.drop(st)
			}
			return
		case <-timer.C:
			s.tick(s.now())
		case st := <-sm.subCh:
			s.hello(st)
		case st := <-sm.unsub:
			if _, ok := sm.subs[st]; ok {
				sm.drop(st)
			}
		case <-sm.wake:
			s.flushPending()
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// tick observes the registry: history, guards appeared or gone, rates.
func (s *Server) tick(now time.Time) {
	sm := s.sampler
	snaps := s.reg.Snapshot()
	closed, complete := s.hist.observe(now, snaps)
	ge := sm.refreshInfos(s.reg, snaps)
	lives := sm.measure(now, snaps)
	s.traces.fill(lives)
	if len(sm.subs) == 0 {
		return
	}
	if len(ge.Added) > 0 || len(ge.Removed) > 0 {
		sm.broadcast("guards", ge)
	}
	sm.broadcast("rates", RatesEvent{Now: now.UTC(), Guards: lives})
	if complete {
		names := make([]string, len(snaps))
		for i := range snaps {
			names[i] = snaps[i].Name
		}
		start := time.Unix(int64(closed)*int64(ShortRollup/time.Second), 0).UTC()
		pts := s.hist.shortRollups(closed, names)
		if pts == nil {
			pts = []RollupPoint{}
		}
		sm.broadcast("rollup", RollupEvent{Start: start, Step: core.Duration(ShortRollup), Guards: pts})
	}
}

// refreshInfos updates the guards known to the sampler from snaps and
// returns what changed.
func (sm *sampler) refreshInfos(reg *core.Registry, snaps []core.GuardSnapshot) GuardsEvent {
	var ev GuardsEvent
	seen := make(map[string]bool, len(snaps))
	for i := range snaps {
		sn := &snaps[i]
		seen[sn.Name] = true
		g, _ := reg.Lookup(sn.Name)
		if e, ok := sm.infos[sn.Name]; ok && e.g == g {
			continue
		}
		e := infoEntry{g: g, info: infoOf(g, sn)}
		sm.infos[sn.Name] = e
		ev.Added = append(ev.Added, e.info)
	}
	for name := range sm.infos {
		if !seen[name] {
			delete(sm.infos, name)
			ev.Removed = append(ev.Removed, name)
		}
	}
	slices.Sort(ev.Removed)
	return ev
}

// measure computes every guard's live figures, rates since the previous
// measure.
func (sm *sampler) measure(now time.Time, snaps []core.GuardSnapshot) []GuardLive {
	var elapsed time.Duration
	if !sm.ratesAt.IsZero() {
		elapsed = now.Sub(sm.ratesAt)
	}
	prev := sm.ratesPrev
	sm.ratesPrev = make(map[string]tally, len(snaps))
	sm.lastLive = make(map[string]GuardLive, len(snaps))
	lives := make([]GuardLive, len(snaps))
	for i := range snaps {
		sn := &snaps[i]
		p, ok := prev[sn.Name]
		e := elapsed
		if !ok && prev == nil {
			e = 0 // the first measure: no rates yet
		}
		lives[i] = liveOf(sn, p, e)
		sm.ratesPrev[sn.Name] = tallyOf(sn)
		sm.lastLive[sn.Name] = lives[i]
	}
	sm.ratesAt = now
	return lives
}

// hello adds a stream, sending it a HelloEvent first.
func (s *Server) hello(st *stream) {
	sm := s.sampler
	// Count the stream before the snapshot, so that a state change made
	// after the snapshot is queued (queue drops events while no stream is
	// counted) and reaches this stream after its hello.
	sm.nsubs.Add(1)
	snaps := s.reg.Snapshot()
	if ge := sm.refreshInfos(s.reg, snaps); len(sm.subs) > 0 && (len(ge.Added) > 0 || len(ge.Removed) > 0) {
		sm.broadcast("guards", ge)
	}
	ev := HelloEvent{
		Now:          s.now().UTC(),
		PushInterval: core.Duration(s.cfg.push),
		Rollup:       core.Duration(ShortRollup),
		TraceURL:     s.cfg.traceLinks.url,
		Guards:       make([]GuardInfo, len(snaps)),
		Live:         make([]GuardLive, len(snaps)),
	}
	for i := range snaps {
		sn := &snaps[i]
		ev.Guards[i] = sm.infos[sn.Name].info
		// The instant figures now, the rates of the last measure.
		l := liveOf(sn, tally{}, 0)
		l.Since = sn.Breaker.Since
		if p, ok := sm.lastLive[sn.Name]; ok {
			l.Calls, l.Failed, l.Slow = p.Calls, p.Failed, p.Slow
			l.RejectedOpen, l.RejectedHalfOpen, l.RejectedFull, l.RejectedLimited = p.RejectedOpen, p.RejectedHalfOpen, p.RejectedFull, p.RejectedLimited
		}
		ev.Live[i] = l
	}
	st.ch <- frame("hello", ev) // the channel is new and empty
	sm.subs[st] = struct{}{}
	sm.nsubs.Store(int32(len(sm.subs)))
}

// flushPending sends the queued state changes and audit records.
func (s *Server) flushPending() {
	sm := s.sampler
	sm.mu.Lock()
	p, overflow := sm.pending, sm.overflow
	sm.pending, sm.overflow = nil, false
	sm.mu.Unlock()
	if overflow {
		// Events were lost: every stream starts afresh with a hello.
		for st := range sm.subs {
			sm.drop(st)
		}
		return
	}
	for _, e := range p {
		if len(sm.subs) == 0 {
			return
		}
		if e.audit != nil {
			sm.broadcast("audit", e.audit)
			continue
		}
		if e.machine != nil {
			sm.broadcast("machine", e.machine)
			continue
		}
		ev := StateEvent{Guard: e.guard, Transition: e.t, State: e.t.To}
		if g, ok := s.reg.Lookup(e.guard); ok {
			b := g.Breaker().Snapshot()
			ev.State, ev.Manual, ev.ManualBy, ev.OpenUntil = b.State, b.Manual, manualBy(&b), openUntil(&b)
		}
		sm.broadcast("state", ev)
	}
}

// queue hands an event to the sampler, if any stream is open.
func (sm *sampler) queue(e pendingEvent) {
	if sm.nsubs.Load() == 0 {
		return
	}
	sm.mu.Lock()
	if len(sm.pending) < maxPending {
		sm.pending = append(sm.pending, e)
	} else {
		sm.overflow = true
	}
	sm.mu.Unlock()
	select {
	case sm.wake <- struct{}{}:
	default:
	}
}

// onStateChange is the server's registry hook.
func (s *Server) onStateChange(ctx context.Context, e core.StateChange) {
	t := transitionOf(e.Transition)
	t.TraceID = traceOf(s.cfg.traceLinks.id, ctx)
	s.mem.addTransition(recentTransition{Guard: e.Guard, Transition: t})
	s.hist.noteTransition(e.Guard, t)
	s.health.noteStateChange(e.Guard)
	s.sampler.queue(pendingEvent{guard: e.Guard, t: t})
}

// broadcast sends an event to every stream, dropping those that fell too
// far behind.
func (sm *sampler) broadcast(event string, v any) {
	f := frame(event, v)
	for st := range sm.subs {
		select {
		case st.ch <- f:
		default:
			sm.drop(st)
		}
	}
}

func (sm *sampler) drop(st *stream) {
	delete(sm.subs, st)
	close(st.ch)
	sm.nsubs.Store(int32(len(sm.subs)))
}

// frame encodes one server-sent event. JSON has no newlines, so the data
// fits on one line.
func frame(event string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil { // cannot happen: the event types hold plain data
		data = []byte("{}")
	}
	b := make([]byte, 0, len(event)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// subscribe registers a stream with the sampler (starting it if need be)
// and reports whether it was; false once the server is closed.
func (s *Server) subscribe(st *stream) bool {
	s.Start()
	sm := s.sampler
	select {
	case sm.subCh <- st:
		return true
	case <-sm.done:
		return false
	}
}

func (s *Server) unsubscribe(st *stream) {
	sm := s.sampler
	select {
	case sm.unsub <- st:
	case <-sm.done:
	}
}
