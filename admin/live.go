package admin

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// This file computes the event stream's documents (GET /v1/events; their
// types are in package wire) from snapshots, and bounds the streams.

// infoOf describes g (whose snapshot is s).
func infoOf(g *core.Guard, s *core.GuardSnapshot) GuardInfo {
	info := GuardInfo{Name: s.Name, Policy: s.Policy, Tags: s.Tags, Critical: s.Critical}
	if info.Tags == nil {
		info.Tags = []string{}
	}
	if g == nil {
		return info
	}
	c := g.Breaker().Config()
	th := Thresholds{MinCalls: c.MinCalls, ConsecutiveFailures: c.ConsecutiveFailures}
	if !c.DisableFailureRate {
		th.FailureRate = c.FailureRate
	}
	if c.SlowCallDuration > 0 {
		th.SlowCallRate, th.SlowCall = c.SlowCallRate, core.Duration(c.SlowCallDuration)
	}
	if c.Window == breaker.TimeWindow {
		th.WindowDuration = core.Duration(c.WindowDuration)
	} else {
		th.WindowSize = c.WindowSize
	}
	info.Thresholds = th
	if b := s.Bulkhead; b != nil {
		info.Bulkhead = &BulkheadLimits{MaxConcurrent: b.MaxConcurrent, MaxQueue: b.MaxQueue}
		if s.Adaptive != nil {
			info.Bulkhead.Adaptive = s.Adaptive.Algorithm
		}
	}
	if rl := s.RateLimit; rl != nil {
		info.RateLimit = rateLimitInfo(rl.Config)
	}
	return info
}

// rateLimitInfo describes c, the Config of a rate limit's snapshot, which
// has its defaults (the algorithm, Per) filled in.
func rateLimitInfo(c ratelimit.Config) *RateLimitInfo {
	return &RateLimitInfo{Algorithm: c.Algorithm.String(), Limit: c.Limit, Per: core.Duration(c.Per), Burst: c.Burst}
}

// liveOf measures s: its counters' increments since prev, over elapsed.
func liveOf(s *core.GuardSnapshot, prev tally, elapsed time.Duration) GuardLive {
	b := &s.Breaker
	l := GuardLive{
		Name:                s.Name,
		State:               b.State,
		Manual:              b.Manual,
		ManualBy:            manualBy(b),
		OpenUntil:           openUntil(b),
		FailureRate:         round2(b.FailureRate),
		SlowCallRate:        round2(b.SlowCallRate),
		WindowCalls:         b.WindowCalls,
		ConsecutiveFailures: b.ConsecutiveFailures,
	}
	if bh := s.Bulkhead; bh != nil {
		l.InUse, l.Queued = bh.InUse, bh.Queued
	}
	if a := s.Adaptive; a != nil {
		l.Limit = a.Limit
	}
	if rl := s.RateLimit; rl != nil {
		a := round2(rl.Available)
		l.Available = &a
	}
	cur := tallyOf(s)
	if elapsed <= 0 || cur.below(prev) {
		return l
	}
	sec := elapsed.Seconds()
	rate := func(c, p uint64) float64 { return round2(float64(c-p) / sec) }
	l.Calls = rate(cur.calls, prev.calls)
	l.Failed = rate(cur.failed, prev.failed)
	l.Slow = rate(cur.slow, prev.slow)
	l.RejectedOpen = rate(cur.rejOpen, prev.rejOpen)
	l.RejectedHalfOpen = rate(cur.rejHalfOpen, prev.rejHalfOpen)
	l.RejectedFull = rate(cur.rejFull, prev.rejFull)
	l.RejectedLimited = rate(cur.rejLimited, prev.rejLimited)
	return l
}

// manualBy names who set a breaker's manual state (the actor of the
// transition into it), or "" for an automatic state.
func manualBy(b *breaker.Snapshot) string {
	if !b.Manual {
		return ""
	}
	return b.LastTransition.Actor
}

// round2 rounds x to two decimals, which is all a dashboard shows and keeps
// the JSON short.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Defaults of StreamLimits.
const (
	// DefaultMaxStreams is the most event streams open at once.
	DefaultMaxStreams = 100
	// DefaultStreamsPerIdentity is the most event streams one token, or
	// every anonymous reader together, may hold open at once.
	DefaultStreamsPerIdentity = 10
	// DefaultStreamWriteTimeout is how long one write to an event stream
	// may take, the first (the hello) included.
	DefaultStreamWriteTimeout = 10 * time.Second
)

// StreamLimits bound the event streams (GET /v1/events). Each open stream
// holds a connection and a goroutine, and its hello costs a snapshot of
// every guard, so they are counted where they are admitted: a stream past
// Max is refused with 503, one past PerIdentity with 429, both with a
// Retry-After. A zero field takes its default.
type StreamLimits struct {
	// Max is the most streams open at once (default DefaultMaxStreams).
	Max int
	// PerIdentity is the most streams one token may hold open; readers
	// without a token (see WithOpenRead) count as one identity (default
	// DefaultStreamsPerIdentity).
	PerIdentity int
	// WriteTimeout bounds every write to a stream, from its headers and
	// hello on: a client that stops reading is disconnected once the
	// connection's buffers are full and a write has waited this long, and
	// its slot is freed (default DefaultStreamWriteTimeout).
	WriteTimeout time.Duration
}

// WithStreamLimits bounds the event streams (see StreamLimits). A
// negative field is an error.
func WithStreamLimits(l StreamLimits) Option {
	return optionFunc(func(c *config) error {
		switch {
		case l.Max < 0:
			return fmt.Errorf("admin: streamLimits: max: %d must not be negative", l.Max)
		case l.PerIdentity < 0:
			return fmt.Errorf("admin: streamLimits: perIdentity: %d must not be negative", l.PerIdentity)
		case l.WriteTimeout < 0:
			return fmt.Errorf("admin: streamLimits: writeTimeout: %v must not be negative", l.WriteTimeout)
		}
		c.streams = l
		return nil
	})
}

// withDefaults fills the zero fields of l.
func (l StreamLimits) withDefaults() StreamLimits {
	if l.Max == 0 {
		l.Max = DefaultMaxStreams
	}
	if l.PerIdentity == 0 {
		l.PerIdentity = DefaultStreamsPerIdentity
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = DefaultStreamWriteTimeout
	}
	return l
}

// streamSlots counts the open event streams, in all and per identity. A
// slot is taken where the limits are checked, in one step, so that
// clients connecting at once cannot all pass the check before any is
// counted.
type streamSlots struct {
	mu   sync.Mutex
	open int            // under mu
	per  map[string]int // under mu; identities with a stream open
}

// take takes a slot for identity id, or returns the problem to answer
// with when a limit is reached.
func (s *streamSlots) take(id string, l StreamLimits) *Problem {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.per[id] >= l.PerIdentity {
		return problem(http.StatusTooManyRequests, codeBusy, fmt.Sprintf("%s holds %d event streams open, the most one identity may; close one, or try again later", quote(id), s.per[id]))
	}
	if s.open >= l.Max {
		return problem(http.StatusServiceUnavailable, codeBusy, "too many event streams are open ("+strconv.Itoa(s.open)+"); try again later")
	}
	if s.per == nil {
		s.per = map[string]int{}
	}
	s.open++
	s.per[id]++
	return nil
}

// give frees a slot of identity id.
func (s *streamSlots) give(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.per[id]--; s.per[id] <= 0 {
		delete(s.per, id)
	}
}

// count returns how many streams are open.
func (s *streamSlots) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}
