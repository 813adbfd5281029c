package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/record"
	"github.com/breakerbox/breakerbox/replay"
)

var errDown = errors.New("down")

// policy is the golden run's policy: a count window with a failure rate,
// consecutive failures, a backed-off open duration, two probes.
var policy = core.Policy{Name: "payments", Match: []string{"pay*"}, Breaker: &core.BreakerPolicy{
	WindowSize: 20, MinCalls: 10, FailureRate: 50, ConsecutiveFailures: 5,
	OpenDuration: core.Duration(2 * time.Second), OpenBackoff: 2, MaxOpenDuration: core.Duration(10 * time.Second),
	HalfOpenProbes: 2, SuccessThreshold: 2, ProbeTimeout: core.Duration(time.Second)}}

// realRun drives a real registry on the real clock of a synctest bubble
// (timers included) through an outage, recording it, and returns the
// recording. Calls overlap: two callers, with different latencies.
func realRun(t *testing.T) *record.Recording {
	t.Helper()
	var rec *record.Recording
	synctest.Test(t, func(t *testing.T) {
		r, err := record.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		reg, err := core.NewRegistry(core.WithPolicies(policy))
		if err != nil {
			t.Fatal(err)
		}
		detach := r.Attach(reg)
		start := time.Now()
		failing := func() bool {
			el := time.Since(start)
			return el > 3*time.Second && el < 12*time.Second || el > 20*time.Second && el < 21*time.Second
		}
		caller := func(name string, every, latency time.Duration, done chan<- struct{}) {
			g := reg.MustGuard(name)
			for time.Since(start) < 30*time.Second {
				_ = g.Do(context.Background(), func(context.Context) error {
					time.Sleep(latency)
					if failing() {
						return errDown
					}
					return nil
				})
				time.Sleep(every)
			}
			done <- struct{}{}
		}
		done := make(chan struct{})
		// Periods and latencies in odd microseconds, so that no call starts
		// at the very instant a breaker timer falls due: at such an instant
		// the real run may let either go first, the replay lets the timer
		// go first (see the package documentation).
		go caller("payments", 97013*time.Microsecond, 31007*time.Microsecond, done)
		go caller("payments", 173011*time.Microsecond, 1499017*time.Microsecond, done) // slow: some probes time out
		go caller("payouts", 251003*time.Microsecond, 11003*time.Microsecond, done)
		// An operator acts too: resets payments mid-outage, forces payouts
		// open for a while, then releases it.
		go func() {
			op := breaker.Manual{Actor: "alice", Reason: "incident 42"}
			time.Sleep(7300013 * time.Microsecond)
			_, _ = reg.Reset(core.Name("payments"), op)
			time.Sleep(16 * time.Second)
			_, _ = reg.ForceOpen(core.Name("payouts"), op)
			time.Sleep(2 * time.Second)
			_, _ = reg.Release(core.Name("payouts"), op)
			done <- struct{}{}
		}()
		for range 4 {
			<-done
		}
		detach()
		var buf bytes.Buffer
		if err := r.Export(&buf); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if rec, err = record.Read(&buf, 0); err != nil {
			t.Fatal(err)
		}
	})
	return rec
}

// TestReplayUnderTheSamePolicyReproducesTheRecordedRun is the golden test:
// replaying a real run's recording under its own policy gives the same
// transitions, at the same times, for the same reasons, and the same
// figures.
func TestReplayUnderTheSamePolicyReproducesTheRecordedRun(t *testing.T) {
	rec := realRun(t)
	rep, err := replay.Run(rec, core.Document{Policies: []core.Policy{policy}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Guards) != 2 || rep.Overrides != 3 {
		t.Fatalf("guards = %d, overrides %d; want payments and payouts, 3 overrides", len(rep.Guards), rep.Overrides)
	}
	for _, g := range rep.Guards {
		if g.Recorded.Trips < 2 {
			t.Errorf("%s: the run tripped %d times; the outage should trip it at least twice", g.Guard, g.Recorded.Trips)
		}
		if len(g.RecordedTransitions) != len(g.ReplayedTransitions) {
			t.Errorf("%s: %d transitions recorded, %d replayed", g.Guard, len(g.RecordedTransitions), len(g.ReplayedTransitions))
		}
		for i := range min(len(g.RecordedTransitions), len(g.ReplayedTransitions)) {
			a, b := g.RecordedTransitions[i], g.ReplayedTransitions[i]
			if a.From != b.From || a.To != b.To || !a.At.Equal(b.At) || a.Reason != b.Reason || a.Actor != b.Actor {
				t.Errorf("%s: transition %d recorded %v, replayed %v", g.Guard, i, a, b)
			}
		}
		if g.Recorded != g.Replayed {
			t.Errorf("%s: recorded %+v, replayed %+v", g.Guard, g.Recorded, g.Replayed)
		}
	}
	if t.Failed() {
		t.Log(rep.Text())
	}
}

// TestReplayUnderAStricterPolicyTripsSooner: the difference a policy change
// makes shows in the figures.
func TestReplayUnderAStricterPolicyTripsSooner(t *testing.T) {
	rec := realRun(t)
	strict := policy
	strict.Breaker = &core.BreakerPolicy{ConsecutiveFailures: 2, OpenDuration: core.Duration(12 * time.Second), HalfOpenProbes: 1}
	rep, err := replay.Run(rec, core.Document{Policies: []core.Policy{strict}})
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Guards[0]
	if g.Guard != "payments" || g.Replayed.TimeOpen <= g.Recorded.TimeOpen || g.Replayed.Failed >= g.Recorded.Failed {
		t.Fatalf("payments: recorded %+v, replayed %+v; want longer open, fewer failures", g.Recorded, g.Replayed)
	}
	text := rep.Text()
	for _, want := range []string{"GUARD", "payments", "payouts", " -> "} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	var back replay.Report
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Guards[0].Replayed != g.Replayed {
		t.Fatalf("JSON round trip: %v, %+v", err, back.Guards[0].Replayed)
	}
}

func TestReplayRefusesADocumentThatDoesNotApply(t *testing.T) {
	rec := &record.Recording{SampleEvery: 1}
	_, err := replay.Run(rec, core.Document{Policies: []core.Policy{{Name: "x", Breaker: &core.BreakerPolicy{FailureRate: 300}}}})
	if err == nil || !strings.Contains(err.Error(), "failureRate") {
		t.Fatalf("Run = %v, want the failureRate problem", err)
	}
}

// synthetic builds a recording of n calls to one guard, a tenth of them in
// an outage, one call every 10ms.
func synthetic(n int) *record.Recording {
	rec := &record.Recording{SampleEvery: 1}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		res := "success"
		if i%10 == 0 || (i/1000)%10 == 3 {
			res = "failure"
		}
		rec.Events = append(rec.Events, record.Event{Kind: record.KindCall, At: t0.Add(time.Duration(i) * 10 * time.Millisecond), Guard: fmt.Sprint("g", i%4), Result: res, LatencyNs: int64(5 * time.Millisecond)})
	}
	return rec
}

func BenchmarkRun(b *testing.B) {
	rec := synthetic(100_000)
	doc := core.Document{Policies: []core.Policy{policy, {Name: "g", Match: []string{"g*"}}}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := replay.Run(rec, doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rec.Events))*float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// TestReplayNotesWhatItCannotKnow: sampling, drops and jitter are noted;
// a recorded override is replayed at its time.
func TestReplayNotesWhatItCannotKnow(t *testing.T) {
	in := `{"kind":"header","format":1,"sampleEvery":10}
{"kind":"state","at":"2026-03-01T12:00:00Z","guard":"g","from":"closed","to":"forced-open","reason":"maintenance","actor":"alice"}
{"kind":"reject","at":"2026-03-01T12:00:05Z","guard":"g","reason":"circuit_open"}
{"kind":"drop","at":"2026-03-01T12:00:06Z","count":7}
{"kind":"state","at":"2026-03-01T12:00:10Z","guard":"g","from":"forced-open","to":"closed","reason":"done","actor":"alice"}
`
	rec, err := record.Read(strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replay.Run(rec, core.Document{Policies: []core.Policy{{Name: "p", Match: []string{"*"}, Breaker: &core.BreakerPolicy{OpenJitter: 0.1}}}})
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Guards[0]
	if rep.Overrides != 2 || rep.Dropped != 7 || len(rep.Notes) != 3 {
		t.Fatalf("overrides %d, dropped %d, notes %q", rep.Overrides, rep.Dropped, rep.Notes)
	}
	if g.Recorded.TimeOpen != core.Duration(10*time.Second) || g.Recorded.Trips != 0 || g.Replayed.TimeOpen != g.Recorded.TimeOpen || g.Replayed.Rejected != 1 {
		t.Fatalf("recorded %+v, replayed %+v", g.Recorded, g.Replayed)
	}
}

// TestReplayAppliesADocumentThatNamesFallbacks: a policy with fallbacks
// (as examples/policies/checkout.yaml has) replays; fallbacks are not
// replayed, so stand-ins are registered. It failed with "no fallback
// registered" before.
func TestReplayAppliesADocumentThatNamesFallbacks(t *testing.T) {
	rec := synthetic(2000)
	withFB := policy
	withFB.Fallbacks = []core.FallbackRef{{Name: "from-cache"}}
	doc := core.Document{Policies: []core.Policy{withFB, {Name: "g", Match: []string{"g*"}, Fallbacks: []core.FallbackRef{{Name: "stale", On: []string{"rejected"}}}}}}
	rep, err := replay.Run(rec, doc)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if len(rep.Guards) == 0 {
		t.Fatal("no guards replayed")
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "fallbacks are not replayed") {
		t.Errorf("notes %q do not say fallbacks are not replayed", rep.Notes)
	}
}
