package admin

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// t0 is on a minute boundary, so on every rollup boundary too.
var t0 = time.Unix(1_699_999_980, 0).UTC()

// gs builds a guard snapshot with the counters the history reads.
func gs(name string, calls, failed uint64, st breaker.State) core.GuardSnapshot {
	return core.GuardSnapshot{Name: name, Breaker: breaker.Snapshot{State: st, Admitted: calls, Succeeded: calls - failed, Failed: failed}}
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestHistoryRollups(t *testing.T) {
	h := newHistory(0)
	if got := h.read([]string{"a"}, false, false); got.Count != 0 || !got.Start.IsZero() || len(got.Guards) != 1 {
		t.Fatalf("before the first observation: %+v", got)
	}
	if _, ok := h.observe(at(0), []core.GuardSnapshot{gs("a", 100, 10, breaker.Closed)}); ok {
		t.Fatal("the baseline completed a rollup")
	}
	if got := h.read([]string{"a"}, false, false); got.Count != shortLen || len(got.Guards) != 1 || got.Guards[0].Calls != nil {
		t.Fatalf("after the baseline: %+v", got)
	}
	// 5 calls in the first span, observed on its boundary.
	b, ok := h.observe(at(10*time.Second), []core.GuardSnapshot{gs("a", 105, 11, breaker.Closed)})
	if !ok || b != bucketOf(t0, ShortRollup) {
		t.Fatalf("closed %d %v, want %d", b, ok, bucketOf(t0, ShortRollup))
	}
	// The next span is observed twice (at a push) before it ends.
	h.observe(at(12*time.Second), []core.GuardSnapshot{gs("a", 108, 11, breaker.Closed)})
	if _, ok := h.observe(at(12*time.Second), []core.GuardSnapshot{gs("a", 999, 0, breaker.Closed)}); ok {
		t.Fatal("an observation not after the last one counted")
	}
	if _, ok := h.observe(at(20*time.Second), []core.GuardSnapshot{gs("a", 110, 13, breaker.Closed)}); !ok {
		t.Fatal("the second span did not complete")
	}
	got := h.read([]string{"a"}, false, true)
	if got.Count != shortLen || got.Step != core.Duration(ShortRollup) || !got.Start.Equal(at(20*time.Second-ShortHistory)) {
		t.Fatalf("history %+v", got)
	}
	g := got.Guards[0]
	if n := len(g.Calls); n != shortLen {
		t.Fatalf("%d rollups", n)
	}
	if g.Calls[358] != 5 || g.Failed[358] != 1 || g.Succeeded[358] != 4 || g.Calls[359] != 5 || g.Failed[359] != 2 {
		t.Fatalf("last rollups: calls %v failed %v", g.Calls[356:], g.Failed[356:])
	}
	if g.Slow != nil || g.Rejected != nil || g.Severity != "" {
		t.Fatalf("empty series given: %+v", g)
	}
	// The minute rollup holds both spans.
	long := h.read([]string{"a"}, true, false).Guards[0]
	if got := h.read([]string{"a"}, true, false); got.Count != longLen || got.Step != core.Duration(LongRollup) {
		t.Fatalf("long history %+v", got)
	}
	// The minute of t0 is still under way: nothing complete yet.
	if long.Calls != nil {
		t.Fatalf("long calls %v", long.Calls[longLen-3:])
	}
	h.observe(at(time.Minute), []core.GuardSnapshot{gs("a", 111, 13, breaker.Closed)})
	long = h.read([]string{"a"}, true, false).Guards[0]
	if long.Calls[longLen-1] != 11 || long.Failed[longLen-1] != 3 {
		t.Fatalf("long calls %v failed %v", long.Calls[longLen-2:], long.Failed[longLen-2:])
	}
}

func TestHistoryRejectionsAndSeverity(t *testing.T) {
	h := newHistory(0)
	snap := func(rej core.Rejections, slow uint64, st breaker.State) []core.GuardSnapshot {
		s := gs("a", 10, 0, st)
		s.Rejected, s.Breaker.Slow = rej, slow
		return []core.GuardSnapshot{s}
	}
	h.observe(at(0), snap(core.Rejections{}, 0, breaker.Closed))
	h.observe(at(10*time.Second), snap(core.Rejections{Open: 3, HalfOpen: 1, Full: 2, Limited: 4}, 2, breaker.Open))
	// Closed at both observations, but open in between.
	h.noteTransition("a", Transition{From: breaker.Closed, To: breaker.ForcedOpen, At: at(12 * time.Second)})
	h.noteTransition("a", Transition{From: breaker.ForcedOpen, To: breaker.Closed, At: at(13 * time.Second)})
	h.observe(at(20*time.Second), snap(core.Rejections{Open: 3, HalfOpen: 1, Full: 2, Limited: 4}, 2, breaker.Closed))
	h.observe(at(30*time.Second), snap(core.Rejections{Open: 3, HalfOpen: 1, Full: 2, Limited: 4}, 2, breaker.Closed))
	g := h.read([]string{"a"}, false, true).Guards[0]
	n := shortLen
	if g.Rejected[n-3] != 10 || g.RejectedOpen[n-3] != 4 || g.RejectedFull[n-3] != 2 || g.RejectedLimited[n-3] != 4 || g.Slow[n-3] != 2 {
		t.Fatalf("rejections %v %v %v %v slow %v", g.Rejected[n-3:], g.RejectedOpen[n-3:], g.RejectedFull[n-3:], g.RejectedLimited[n-3:], g.Slow[n-3:])
	}
	// [0,10s) ends open (2), [10s,20s) saw a forced open (3), [20s,30s)
	// nothing: not stored.
	if sev := g.Severity[n-3:]; sev != "230" {
		t.Fatalf("severity %q", sev)
	}
	if len(g.Transitions) != 2 || g.Transitions[0].To != breaker.Closed {
		t.Fatalf("transitions, newest first: %+v", g.Transitions)
	}
}

// The history's memory is bounded however long it runs: each guard's rings
// stop at an hour and a day of rollups.
func TestHistoryBounded(t *testing.T) {
	h := newHistory(0)
	var calls uint64
	for i := range 25 * 360 { // 25 hours, every 10 seconds
		calls++
		h.observe(at(time.Duration(i)*ShortRollup), []core.GuardSnapshot{gs("busy", calls, 0, breaker.Closed), gs("idle", 7, 0, breaker.Closed)})
	}
	busy, idle := h.series["busy"], h.series["idle"]
	if len(busy.short.buf) > shortLen+1 || cap(busy.short.buf) != shortLen+1 || len(busy.long.buf) != longLen+1 || cap(busy.long.buf) != longLen+1 {
		t.Fatalf("busy rings: short %d/%d, long %d/%d", len(busy.short.buf), cap(busy.short.buf), len(busy.long.buf), cap(busy.long.buf))
	}
	if len(idle.short.buf)+len(idle.long.buf) != 0 {
		t.Fatalf("an idle guard stored %d rollups", len(idle.short.buf)+len(idle.long.buf))
	}
	got := h.read([]string{"busy", "idle"}, false, false)
	for i, c := range got.Guards[0].Calls {
		if c != 1 {
			t.Fatalf("short rollup %d: %d calls, want 1", i, c)
		}
	}
	long := h.read([]string{"busy"}, true, false).Guards[0]
	for i, c := range long.Calls {
		if c != 6 {
			t.Fatalf("long rollup %d: %d calls, want 6", i, c)
		}
	}
	if got.Guards[1].Calls != nil {
		t.Fatal("the idle guard has calls")
	}
	for range 40 {
		h.noteTransition("busy", Transition{To: breaker.Open})
	}
	if n := len(h.read([]string{"busy"}, false, true).Guards[0].Transitions); n != guardTransitions {
		t.Fatalf("%d transitions kept", n)
	}
}

func TestHistoryGuardsComeAndGo(t *testing.T) {
	h := newHistory(0)
	h.observe(at(0), []core.GuardSnapshot{gs("a", 50, 0, breaker.Closed)})
	// b is new: its calls since it was created count; a was pruned and
	// created afresh: its counters went down, so they count from zero.
	h.observe(at(10*time.Second), []core.GuardSnapshot{gs("a", 3, 0, breaker.Closed), gs("b", 4, 0, breaker.Closed)})
	h.observe(at(20*time.Second), []core.GuardSnapshot{gs("b", 4, 0, breaker.Closed)})
	got := h.read([]string{"a", "b"}, false, false)
	if got.Guards[0].Calls != nil {
		t.Fatalf("a was dropped with its guard, but has %v", got.Guards[0].Calls[shortLen-2:])
	}
	if c := got.Guards[1].Calls; c == nil || c[shortLen-2] != 4 {
		t.Fatalf("b: %v", c)
	}
	if _, ok := h.series["a"]; ok {
		t.Fatal("a's series is kept after the guard went")
	}
	h2 := newHistory(0)
	h2.observe(at(0), []core.GuardSnapshot{gs("a", 50, 0, breaker.Closed)})
	h2.observe(at(10*time.Second), []core.GuardSnapshot{gs("a", 3, 0, breaker.Closed)})
	h2.observe(at(20*time.Second), []core.GuardSnapshot{gs("a", 3, 0, breaker.Closed)})
	if c := h2.read([]string{"a"}, false, false).Guards[0].Calls; c == nil || c[shortLen-2] != 3 {
		t.Fatalf("a created afresh: %v", c)
	}
}

// A gap in the observations (a paused process) puts what happened during
// it in the rollup of the observation before it; the rollups in between
// are zeros.
func TestHistoryGap(t *testing.T) {
	h := newHistory(0)
	h.observe(at(0), []core.GuardSnapshot{gs("a", 0, 0, breaker.Closed)})
	h.observe(at(10*time.Second), []core.GuardSnapshot{gs("a", 1, 0, breaker.Closed)})
	h.observe(at(10*time.Minute), []core.GuardSnapshot{gs("a", 9, 0, breaker.Closed)})
	c := h.read([]string{"a"}, false, false).Guards[0].Calls
	want := make([]uint32, shortLen)
	want[shortLen-60], want[shortLen-59] = 1, 8
	if !slices.Equal(c, want) {
		t.Fatalf("calls %v", c[shortLen-62:])
	}
}

func TestRingWraps(t *testing.T) {
	r := ring{max: 4}
	for b := uint32(1); b <= 10; b++ {
		r.add(rollup{bucket: b, calls: b})
		r.add(rollup{bucket: b, calls: 1}) // merged
	}
	var got []uint32
	r.each(func(x *rollup) { got = append(got, x.bucket*100+x.calls) })
	if !slices.Equal(got, []uint32{708, 809, 910, 1011}) || r.last().bucket != 10 {
		t.Fatalf("ring %v", got)
	}
	if sat(1<<32-2, 5) != 1<<32-1 {
		t.Fatal("sat does not saturate")
	}
}

func TestHistoryEndpoint(t *testing.T) {
	a := newTestAPI(t)
	now := time.Now()
	a.srv.SampleAt(now.Add(-time.Minute))
	g := a.reg.MustGuard("search")
	for range 3 {
		p, err := g.Allow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	}
	a.srv.SampleAt(now)
	var h History
	a.do(http.MethodGet, "/v1/history", readSecret, nil).ok(t, &h)
	if h.Count != shortLen || len(h.Guards) != 4 {
		t.Fatalf("history: count %d, %d guards", h.Count, len(h.Guards))
	}
	var found bool
	for _, gh := range h.Guards {
		if gh.Name == "search" {
			found = gh.Calls != nil && slices.Max(gh.Calls) == 3
		}
		if gh.Transitions != nil || gh.Succeeded != nil {
			t.Errorf("the all-guards history has detail: %+v", gh)
		}
	}
	if !found {
		t.Fatalf("search's calls are missing: %+v", h.Guards)
	}

	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "drill"}).ok(t, nil)
	a.do(http.MethodGet, "/v1/history?guard=search&range=24h", readSecret, nil).ok(t, &h)
	if h.Count != longLen || h.Step != core.Duration(LongRollup) || len(h.Guards) != 1 {
		t.Fatalf("detail: %+v", h)
	}
	d := h.Guards[0]
	if len(d.Transitions) != 1 || d.Transitions[0].To != breaker.ForcedOpen || d.Transitions[0].Actor != "alice" {
		t.Fatalf("transitions %+v", d.Transitions)
	}
	if len(d.Operations) != 1 || d.Operations[0].Reason != "drill" {
		t.Fatalf("operations %+v", d.Operations)
	}
	// A name with a slash and a space.
	a.do(http.MethodGet, "/v1/history?guard="+url.QueryEscape("GET /users/{id}"), readSecret, nil).ok(t, &h)
	a.do(http.MethodGet, "/v1/history?guard=nope", readSecret, nil).problem(t, 404, codeUnknownGuard)
	a.do(http.MethodGet, "/v1/history?range=1w", readSecret, nil).problem(t, 400, codeInvalid)
	a.do(http.MethodGet, "/v1/history", "", nil).problem(t, 401, codeUnauthorized)

	// Large answers are gzipped for clients that accept it.
	for i := range 50 {
		gg := a.reg.MustGuard(fmt.Sprintf("g%02d", i))
		p, _ := gg.Allow(t.Context())
		p.Done(nil)
	}
	a.srv.SampleAt(now.Add(ShortRollup))
	req, _ := http.NewRequest(http.MethodGet, a.ts.URL+"/v1/history", nil)
	req.Header.Set("Authorization", "Bearer "+readSecret)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := a.ts.Client().Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("headers %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(&h); err != nil || len(h.Guards) != 54 {
		t.Fatalf("gzipped history: %v, %d guards", err, len(h.Guards))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                   false,
		"gzip":               true,
		"br, gzip;q=0.8":     true,
		"GZIP":               true,
		"gzip;q=0":           false,
		"gzip; q=0.0":        false,
		"deflate, x-gzip":    false,
		"identity, gzip;q=1": true,
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", h)
		if got := acceptsGzip(r); got != want {
			t.Errorf("%q: %v, want %v", h, got, want)
		}
	}
}
