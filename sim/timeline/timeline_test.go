package timeline

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func sample() *Timeline {
	tl := &Timeline{Guard: "g", Policy: "p", Seed: 3, Duration: core.Duration(4 * time.Second), Tick: core.Duration(time.Second),
		Transitions: []Transition{
			{At: core.Duration(1500 * time.Millisecond), From: "closed", To: "open"},
			{At: core.Duration(2500 * time.Millisecond), From: "open", To: "half-open"},
			{At: core.Duration(2600 * time.Millisecond), From: "half-open", To: "closed"},
		},
		Summary: Summary{Calls: 8, Succeeded: 4, Failed: 2, Rejected: 2, Trips: 1, TimeOpen: core.Duration(time.Second)}}
	for i := 1; i <= 4; i++ {
		tl.Points = append(tl.Points, Point{At: core.Duration(time.Duration(i) * time.Second), State: "closed", Calls: 2, Succeeded: 1, Failed: 1, FailureRate: 0.5})
	}
	return tl
}

// TestPanelsStateIsAStepLine: the state line goes through both ends of
// every transition, and counts sit in the middle of their tick.
func TestPanelsStateIsAStepLine(t *testing.T) {
	tl := sample()
	ps := tl.Panels()
	st := ps[0].Lines[0]
	if !slices.Equal(st.X, []float64{0, 1.5, 1.5, 2.5, 2.5, 2.6, 2.6, 4}) || !slices.Equal(st.Y, []float64{0, 0, 2, 2, 1, 1, 0, 0}) {
		t.Fatalf("state line X %v Y %v", st.X, st.Y)
	}
	calls := ps[2].Lines[0]
	if calls.Name != "calls" || !slices.Equal(calls.X, []float64{0.5, 1.5, 2.5, 3.5}) || calls.Y[0] != 2 {
		t.Fatalf("calls line %+v", calls)
	}
	names := func(p Panel) (out []string) {
		for _, l := range p.Lines {
			out = append(out, l.Name)
		}
		return out
	}
	if n := names(ps[2]); slices.Contains(n, "rejected: bulkhead") || slices.Contains(n, "rate limit") {
		t.Fatalf("lines of gates the policy lacks: %v", n)
	}
	tl.HasBulkhead, tl.HasRateLimit = true, true
	ps = tl.Panels()
	if n := names(ps[2]); !slices.Contains(n, "rejected: bulkhead") || !slices.Contains(n, "rate limit") || !slices.Contains(names(ps[4]), "bulkhead limit") {
		t.Fatalf("lines with a bulkhead and a rate limit: %v, %v", n, names(ps[4]))
	}
}

func TestTextAndUnits(t *testing.T) {
	tl := sample()
	tl.Notes = []string{"a note"}
	txt := tl.Text()
	for _, want := range []string{"guard g (policy p), 4s simulated, seed 3", "8: 4 succeeded (50.0%), 2 failed (25.0%), 2 rejected (25.0%)", "1 trips, open 1s (25.0% of the time)", "note: a note"} {
		if !strings.Contains(txt, want) {
			t.Errorf("Text lacks %q:\n%s", want, txt)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		unit string
	}{{10 * time.Minute, "s"}, {time.Hour, "min"}, {24 * time.Hour, "h"}} {
		tl.Duration = core.Duration(c.d)
		if _, u := tl.XUnit(); u != c.unit {
			t.Errorf("XUnit for %v = %s, want %s", c.d, u, c.unit)
		}
	}
	if ticks := timeTicks(600); len(ticks) != 11 || ticks[1].Label != "60" {
		t.Errorf("ticks for 600s: %v", ticks)
	}
}

// TestRenderEmpty: a timeline without points or transitions still draws.
func TestRenderEmpty(t *testing.T) {
	tl := &Timeline{Guard: "g", Policy: "p", Duration: core.Duration(time.Second), Tick: core.Duration(time.Second)}
	var b bytes.Buffer
	if err := tl.PNG(&b); err != nil || b.Len() == 0 {
		t.Fatalf("PNG: %v (%d bytes)", err, b.Len())
	}
	b.Reset()
	if err := tl.SVG(&b); err != nil || !strings.Contains(b.String(), "<svg") {
		t.Fatalf("SVG: %v", err)
	}
}
