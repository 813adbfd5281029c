package replay_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	policies "github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/record"
	"github.com/breakerbox/breakerbox/replay"
)

// The documents of the versioned run: version 1 trips on five failures in
// a row (or half of ten calls) and opens for 2s; version 2, applied in the
// middle of the run, trips on two in a row and opens for 4s with one probe.
// Same window shape, so the apply keeps the windows' content.
var (
	docV1 = core.Document{Policies: []core.Policy{{Name: "payments", Match: []string{"pay*"}, Breaker: &core.BreakerPolicy{
		WindowSize: 20, MinCalls: 10, FailureRate: 50, ConsecutiveFailures: 5,
		OpenDuration: core.Duration(2 * time.Second), OpenBackoff: 2, MaxOpenDuration: core.Duration(10 * time.Second),
		HalfOpenProbes: 2, SuccessThreshold: 2, ProbeTimeout: core.Duration(time.Second)}}}}
	docV2 = core.Document{Policies: []core.Policy{{Name: "payments", Match: []string{"pay*"}, Breaker: &core.BreakerPolicy{
		WindowSize: 20, MinCalls: 10, FailureRate: 50, ConsecutiveFailures: 2,
		OpenDuration: core.Duration(4 * time.Second), OpenBackoff: 2, MaxOpenDuration: core.Duration(10 * time.Second),
		HalfOpenProbes: 1, SuccessThreshold: 1, ProbeTimeout: core.Duration(time.Second)}}}}
)

// versionedRun drives a real registry, managed by a policy.Manager, on the
// real clock of a synctest bubble through two outages, applying docV2
// between them (and recording the change at once with Recorder.Policy);
// it returns the recording and the store of versions.
func versionedRun(t *testing.T) (*record.Recording, policies.Store) {
	t.Helper()
	var rec *record.Recording
	store := policies.NewMemoryStore()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r, err := record.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		reg, err := core.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		m, err := policies.NewManager(ctx, reg, store)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Apply(ctx, docV1, policies.Meta{Source: "v1.yaml"}); err != nil {
			t.Fatal(err)
		}
		detach := r.Attach(reg)
		start := time.Now()
		failing := func() bool {
			el := time.Since(start)
			return el > 2*time.Second && el < 8*time.Second || el > 13*time.Second && el < 19*time.Second
		}
		caller := func(name string, every, latency time.Duration, done chan<- struct{}) {
			g := reg.MustGuard(name)
			for time.Since(start) < 24*time.Second {
				_ = g.Do(ctx, func(context.Context) error {
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
		// Odd microseconds, so that no call meets a timer or the apply at
		// the same instant (see the package documentation).
		go caller("payments", 97013*time.Microsecond, 31007*time.Microsecond, done)
		go caller("payments", 173011*time.Microsecond, 1499017*time.Microsecond, done)
		go caller("payouts", 251003*time.Microsecond, 11003*time.Microsecond, done)
		go func() {
			time.Sleep(10500013 * time.Microsecond)
			if _, err := m.Apply(ctx, docV2, policies.Meta{Source: "v2.yaml", Actor: "alice", Reason: "trip sooner"}); err != nil {
				t.Error(err)
			}
			r.Policy(reg.PolicyVersion())
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
	return rec, store
}

// TestReplayFollowingVersionsReproducesARunWhosePolicyChanged is the
// golden test of version following: a recording of a real run whose policy
// was changed by Apply in its middle replays to the recorded transitions
// (times and reasons included) when the replay follows the recorded
// versions, and differs when it is pinned to the first version.
func TestReplayFollowingVersionsReproducesARunWhosePolicyChanged(t *testing.T) {
	rec, store := versionedRun(t)
	rep, err := replay.RunWith(rec, core.Document{}, replay.Options{Versions: replay.StoreVersions(context.Background(), store)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.FollowsVersions || len(rep.Segments) != 2 || rep.Segments[0].Version != 1 || rep.Segments[1].Version != 2 ||
		rep.Segments[0].ReplayedVersion != 1 || rep.Segments[1].ReplayedVersion != 2 {
		t.Fatalf("segments %+v, want versions 1 and 2, each replayed under itself", rep.Segments)
	}
	for _, g := range rep.Guards {
		if len(g.Segments) != 2 || g.Segments[0].Recorded.Trips == 0 || g.Segments[1].Recorded.Trips == 0 {
			t.Errorf("%s: segments %+v; the run should trip under both versions", g.Guard, g.Segments)
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
		var sum replay.Stats
		for i, s := range g.Segments {
			if s.Recorded != s.Replayed {
				t.Errorf("%s: version %d: recorded %+v, replayed %+v", g.Guard, rep.Segments[i].Version, s.Recorded, s.Replayed)
			}
			sum.Calls += s.Recorded.Calls
			sum.Trips += s.Recorded.Trips
			sum.TimeOpen += s.Recorded.TimeOpen
			sum.Rejected += s.Recorded.Rejected
			sum.Failed += s.Recorded.Failed
		}
		if sum != g.Recorded {
			t.Errorf("%s: the segments add up to %+v, the whole recording is %+v", g.Guard, sum, g.Recorded)
		}
	}
	text := rep.Text()
	for _, want := range []string{"version 1, ", "version 2, ", "replayed under version 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text report lacks %q:\n%s", want, text)
		}
	}
	if t.Failed() {
		t.Log(text)
	}

	// Pinned to version 1, the second outage replays differently.
	pinned, err := replay.Run(rec, docV1)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for _, g := range pinned.Guards {
		if len(g.Segments) != 2 {
			t.Fatalf("%s: pinned replay has %d segments, want 2", g.Guard, len(g.Segments))
		}
		if g.Segments[0].Recorded != g.Segments[0].Replayed {
			t.Errorf("%s: under version 1 the pinned replay should match the run: recorded %+v, replayed %+v", g.Guard, g.Segments[0].Recorded, g.Segments[0].Replayed)
		}
		differs = differs || g.Segments[1].Recorded != g.Segments[1].Replayed
	}
	if !differs {
		t.Errorf("pinned to version 1, the replay of version 2's segment matches the run:\n%s", pinned.Text())
	}
	if !strings.Contains(strings.Join(pinned.Notes, "\n"), "changed policy version 1 times") {
		t.Errorf("the pinned replay does not note the version change: %q", pinned.Notes)
	}
}

// TestReplayVersionsItCannotHave: a version the store lacks is noted and
// the one before kept; with no document and no version to be had, RunWith
// fails.
func TestReplayVersionsItCannotHave(t *testing.T) {
	in := `{"kind":"header","format":1,"sampleEvery":1}
{"kind":"policy","at":"2026-03-01T12:00:00Z","version":1,"hash":"h1"}
{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"g","result":"failure","latencyNs":1000}
{"kind":"policy","at":"2026-03-01T12:00:02Z","version":2,"hash":"h2"}
{"kind":"call","at":"2026-03-01T12:00:03Z","guard":"g","result":"failure","latencyNs":1000}
`
	rec, err := record.Read(strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	one := core.Document{Policies: []core.Policy{{Name: "p", Match: []string{"*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}}}
	versions := func(v uint64) (core.Document, error) {
		if v == 1 {
			return one, nil
		}
		return core.Document{}, errors.New("not in the store")
	}
	rep, err := replay.RunWith(rec, core.Document{}, replay.Options{Versions: versions})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"policy version 2, live from 2026-03-01T12:00:02Z, not followed (version 1 kept): not in the store", "the document given hashes to"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q: %q", want, rep.Notes)
		}
	}
	if g := rep.Guards[0]; g.Replayed.Trips != 1 || rep.Segments[1].ReplayedVersion != 1 {
		t.Errorf("replayed %+v, segments %+v: want one trip, version 1 kept", g.Replayed, rep.Segments)
	}
	_, err = replay.RunWith(rec, core.Document{}, replay.Options{Versions: func(uint64) (core.Document, error) { return core.Document{}, errors.New("gone") }})
	if err == nil || !strings.Contains(err.Error(), "no policy version the recording names could be had") {
		t.Errorf("RunWith with no version to be had: %v", err)
	}
}
