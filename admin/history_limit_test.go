package admin

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// sumSeries recounts what h holds, to check h.bytes against.
func sumSeries(h *history) (bytes int64, rollups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, s := range h.series {
		bytes += s.size(name)
		rollups += cap(s.short.buf) + cap(s.long.buf)
	}
	return bytes, rollups
}

// Bug: the history kept every busy guard's full day, about 69 KiB each,
// with no bound in all (100,000 busy guards: about 6.7 GiB). Now it holds
// at most WithHistoryLimit: 20 busy guards and 10 that went idle after an
// hour, observed every minute for a day, under a 512 KiB limit (a day of
// the busy ones alone would take 1.4 MB). The idle guards' histories go
// first, the drops are counted in GET /v1/history's stats, and what the
// history counts matches what it holds.
func TestHistoryMemoryLimit(t *testing.T) {
	const limit = 512 << 10
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var busy, idle []*core.Guard
	for i := range 20 {
		busy = append(busy, reg.MustGuard(fmt.Sprintf("busy-%02d", i)))
	}
	for i := range 10 {
		idle = append(idle, reg.MustGuard(fmt.Sprintf("idle-%02d", i)))
	}
	a := newTestAPIFor(t, reg, WithHistoryLimit(limit))
	calls := func(gs []*core.Guard) {
		for _, g := range gs {
			call(t, g, nil)
		}
	}
	history := func(q string) History {
		t.Helper()
		var h History
		a.do(http.MethodGet, "/v1/history"+q, readSecret, nil).ok(t, &h)
		return h
	}
	// Observations at explicit times, after any the sampler makes (it
	// starts with the first request, and ignores times before the last).
	base := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
	hist := a.srv.hist
	firstDrop := true
	for i := 0; i <= longLen; i++ {
		calls(busy)
		if i < 60 {
			calls(idle)
		}
		a.srv.SampleAt(base.Add(time.Duration(i) * time.Minute))
		hist.mu.Lock()
		b, drops := hist.bytes, hist.droppedSeries
		dropped := map[bool]int{}
		for name, s := range hist.series {
			if s.dropped {
				dropped[strings.HasPrefix(name, "busy")]++
			}
		}
		hist.mu.Unlock()
		if b > limit {
			t.Fatalf("minute %d: the history holds %d bytes, over its limit %d", i, b, limit)
		}
		if drops > 0 && firstDrop {
			// At the first drop, every idle guard's history went before
			// any busy guard's.
			firstDrop = false
			t.Logf("minute %d: first drop: %d idle, %d busy", i, dropped[false], dropped[true])
			if dropped[false] != len(idle) && dropped[true] > 0 {
				t.Fatalf("minute %d: %d busy guards' histories dropped, but only %d of %d idle ones", i, dropped[true], dropped[false], len(idle))
			}
		}
	}
	h := history("?range=24h")
	t.Logf("after a day: %+v", h.Stats)
	if h.Stats.Limit != limit || h.Stats.Bytes > limit || h.Stats.Bytes < limit/2 || h.Stats.DroppedSeries == 0 || h.Stats.DroppedPoints == 0 || h.Stats.Guards != 30 {
		t.Fatalf("stats %+v", h.Stats)
	}
	kept := 0
	for _, g := range h.Guards {
		if strings.HasPrefix(g.Name, "idle") && !g.Dropped {
			t.Errorf("%s: an idle guard's history kept while busy ones wait", g.Name)
		}
		if !g.Dropped && g.Calls != nil {
			kept++
		}
	}
	if kept == 0 {
		t.Fatal("no busy guard kept a history")
	}
	if b, _ := sumSeries(a.srv.hist); b != h.Stats.Bytes {
		t.Fatalf("the history counts %d bytes, its series hold %d", h.Stats.Bytes, b)
	}
	if one := history("?guard=busy-00"); len(one.Guards) != 1 || one.Stats.Bytes != h.Stats.Bytes {
		t.Fatalf("one guard: %+v", one)
	}
}

// A guard whose history was dropped records again once there is room: here
// when the guards that took it have been idle for idleDrop.
func TestHistoryDroppedGuardResumes(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var gs []*core.Guard
	for i := range 10 {
		gs = append(gs, reg.MustGuard(fmt.Sprintf("g-%02d", i)))
	}
	s, err := New(reg, WithHistoryLimit(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var i int
	step := func(gs []*core.Guard) {
		for _, g := range gs {
			call(t, g, nil)
		}
		s.SampleAt(t0.Add(time.Duration(i) * time.Minute))
		i++
	}
	for range 200 {
		step(gs)
	}
	h := s.hist.read([]string{"g-09"}, true, false)
	if h.Stats.DroppedSeries == 0 {
		t.Fatalf("nothing dropped: %+v", h.Stats)
	}
	var waiting string
	for _, g := range s.hist.read([]string{"g-00", "g-01", "g-02", "g-03", "g-04", "g-05", "g-06", "g-07", "g-08", "g-09"}, true, false).Guards {
		if g.Dropped {
			waiting = g.Name
		}
	}
	if waiting == "" {
		t.Fatal("no guard waits")
	}
	// Every guard but the waiting one falls idle: after idleDrop, their
	// histories make room for it.
	w, _ := reg.Lookup(waiting)
	for range int(idleDrop/time.Minute) + 2 {
		step([]*core.Guard{w})
	}
	g := s.hist.read([]string{waiting}, true, false).Guards[0]
	if g.Dropped || g.Calls == nil || g.Calls[longLen-1] != 1 {
		t.Fatalf("%s after the others fell idle: %+v", waiting, g)
	}
	if idle := s.hist.read([]string{"g-00", "g-01", "g-02", "g-03", "g-04", "g-05", "g-06", "g-07", "g-08", "g-09"}, true, false); idle.Stats.Bytes > 64<<10 {
		t.Fatalf("stats %+v", idle.Stats)
	}
}

// Rollups that left both windows are let go: a guard busy for a while and
// then idle for more than a day holds no rollup.
func TestHistoryLetsOldRollupsGo(t *testing.T) {
	h := newHistory(0)
	for i := range 100 {
		h.observe(at(time.Duration(i)*time.Minute), []core.GuardSnapshot{gs("a", uint64(i), 0, breaker.Closed)})
	}
	if s := h.series["a"]; len(s.short.buf) == 0 || len(s.long.buf) == 0 {
		t.Fatal("no rollups")
	}
	h.observe(at(100*time.Minute+ShortHistory+time.Minute), []core.GuardSnapshot{gs("a", 99, 0, breaker.Closed)})
	if s := h.series["a"]; s.short.buf != nil || len(s.long.buf) == 0 {
		t.Fatalf("after an hour idle: short %d, long %d", len(s.short.buf), len(s.long.buf))
	}
	h.observe(at(100*time.Minute+LongHistory+time.Minute), []core.GuardSnapshot{gs("a", 99, 0, breaker.Closed)})
	if s := h.series["a"]; s.short.buf != nil || s.long.buf != nil || h.bytes != s.size("a") || h.bytes > seriesBytes+1 {
		t.Fatalf("after a day idle: short %d, long %d, %d bytes", len(s.short.buf), len(s.long.buf), h.bytes)
	}
}

// The memory a transition's strings take is counted: a transition that
// would take the history over its limit is not kept.
func TestHistoryCountsTransitionText(t *testing.T) {
	h := newHistory(16 << 10)
	h.observe(at(0), []core.GuardSnapshot{gs("a", 0, 0, breaker.Closed)})
	long := strings.Repeat("x", 4<<10)
	for range 8 {
		h.noteTransition("a", Transition{To: breaker.ForcedOpen, Reason: long, Actor: "alice"})
	}
	got := h.read([]string{"a"}, false, true).Guards[0].Transitions
	if h.bytes > 16<<10 || len(got) == 0 || len(got) >= 4 {
		t.Fatalf("%d bytes held, %d transitions kept", h.bytes, len(got))
	}
	if b, _ := sumSeries(h); b != h.bytes {
		t.Fatalf("counted %d, held %d", h.bytes, b)
	}
}

// Bug: the registry hook recording a transition waited for the history's
// lock, which an observation holds while it goes through every guard (and
// a trim while it sorts them): the call that caused the transition waited
// with it. Now the hook only queues the transition.
func TestHistoryTransitionHookNeverWaits(t *testing.T) {
	h := newHistory(0)
	h.mu.Lock() // an observation under way
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.noteTransition("a", Transition{To: breaker.Open, Reason: "failure rate"})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a bound, so that the test fails rather than hangs
		h.mu.Unlock()
		t.Fatal("noteTransition waited for the history's lock")
	}
	h.mu.Unlock()
	if tr := h.read([]string{"a"}, false, true).Guards[0].Transitions; len(tr) != 1 || tr[0].Reason != "failure rate" {
		t.Fatalf("transitions %+v", tr)
	}
}

func TestWithHistoryLimitRefusesNegative(t *testing.T) {
	if _, err := New(testRegistry(t), WithHistoryLimit(-1)); err == nil || !strings.Contains(err.Error(), "historyLimit: -1") {
		t.Fatalf("%v", err)
	}
}
