// Package replay answers "what would this policy have done?": it runs the
// call outcomes of a recording (package record) through guards built from
// another policy document, on a virtual clock, and reports per guard what
// the recorded run did and what the replayed one does: trips, time open,
// calls rejected, calls that failed.
//
// # The virtual clock
//
// Each recorded call becomes two moments: its admission (its end minus its
// latency) and its outcome (its end). A recorded rejection becomes an
// admission attempt. The moments are replayed in time order through the
// guards' explicit-time API (core.Guard.AllowAt, core.Permit.ReportAt),
// with core.Guard.AdvanceAt before each, so that an open breaker
// half-opens at the end of its open duration and a lost probe reopens it
// at its timeout, where the real clock would have put those changes. A
// replay reads no clock and sleeps nowhere: an hour of recording replays
// in the time its events take to process (BenchmarkRun reports calls/s).
//
// # What a replay cannot know
//
//   - A call the recorded run rejected has no outcome. If the replayed
//     policy admits it, it is reported as ignored (the breaker counts it as
//     neither success nor failure) and counted in Stats.Unknown.
//   - Manual overrides (state changes with an actor: forced open,
//     disabled, metrics-only, released or reset) are replayed at their
//     times (breaker.Breaker.OverrideAt), but for a manual open for a while
//     (OpenFor), whose length the recording does not hold: it is noted and
//     skipped.
//   - A sampled recording (1 in N calls) replays a thinned stream: count
//     thresholds (consecutive failures, minimum calls) see N times fewer
//     calls. Report.Notes says so.
//   - A bulkhead rejects at once when full: a replayed call never waits in
//     its queue (core.Guard.AllowAt).
//   - At the very instant a breaker timer falls due, a real run may admit
//     a call before or after the timer fires (two goroutines race); the
//     replay lets the timer go first.
//   - Open-duration jitter makes replays of one recording differ; replay
//     policies without it for exact answers (Report.Notes says so).
//
// Replaying a recording under the policy it was recorded with reproduces
// the recorded transitions exactly, times included (the golden test).
package replay

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/record"
)

// Stats are one guard's figures over the recording.
type Stats struct {
	// Calls counts the calls admitted.
	Calls int `json:"calls"`
	// Trips counts automatic openings (closed or half-open to open).
	Trips int `json:"trips"`
	// TimeOpen is the time spent open or forced open.
	TimeOpen core.Duration `json:"timeOpen"`
	// Rejected counts the calls rejected (breaker, bulkhead, rate limit,
	// throttle).
	Rejected int `json:"rejected"`
	// Failed counts the admitted calls that failed.
	Failed int `json:"failed"`
	// Unknown counts the calls admitted whose outcome the recording lacks
	// (the recorded run rejected them); always 0 for the recorded run.
	Unknown int `json:"unknown"`
}

// Transition is one state change, recorded or replayed.
type Transition struct {
	From   breaker.State `json:"from"`
	To     breaker.State `json:"to"`
	At     time.Time     `json:"at"`
	Reason string        `json:"reason,omitempty"`
	Actor  string        `json:"actor,omitempty"`
}

// String formats the transition as "12:00:01.25 closed -> open: reason".
func (t Transition) String() string {
	return t.At.UTC().Format("15:04:05.000") + " " + t.From.String() + " -> " + t.To.String() + ": " + t.Reason
}

// GuardReport compares one guard's recorded run with its replay.
type GuardReport struct {
	Guard string `json:"guard"`
	// Policy is the policy the replay gave the guard.
	Policy   string `json:"policy"`
	Recorded Stats  `json:"recorded"`
	Replayed Stats  `json:"replayed"`
	// The state changes of each run, in order.
	RecordedTransitions []Transition `json:"recordedTransitions,omitempty"`
	ReplayedTransitions []Transition `json:"replayedTransitions,omitempty"`
}

// Report is a replay's result.
type Report struct {
	// From and To bound the recording's events.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// SampleEvery is the recording's sampling (1: every call).
	SampleEvery int `json:"sampleEvery"`
	// Events counts the recording's events; Dropped, the events the
	// recorder dropped (its drop lines); Overrides, the manual changes
	// recorded (replayed at their times, but for opens for a while).
	Events    int    `json:"events"`
	Dropped   uint64 `json:"dropped"`
	Overrides int    `json:"overrides"`
	// Guards holds one report per guard of the recording, by name.
	Guards []GuardReport `json:"guards"`
	// Notes says what limits the replay's answer.
	Notes []string `json:"notes,omitempty"`
}

// step is one moment of the replay.
type step struct {
	at   time.Time
	ev   int  // index in the recording's events
	done bool // the outcome of a call, else its admission (or an override)
}

// Run replays rec under the policies of doc (applied to a fresh registry,
// so a guard gets the policy its name selects there) and returns the
// report. It fails only when doc does not apply.
func Run(rec *record.Recording, doc core.Document) (*Report, error) {
	rep := &Report{SampleEvery: rec.SampleEvery, Events: len(rec.Events)}
	byName := map[string]*GuardReport{}
	guard := func(name string) *GuardReport {
		gr, ok := byName[name]
		if !ok {
			gr = &GuardReport{Guard: name}
			byName[name] = gr
		}
		return gr
	}
	reg, err := core.NewRegistry(core.WithHooks(core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) {
		gr := guard(e.Guard)
		gr.ReplayedTransitions = append(gr.ReplayedTransitions, Transition{From: e.From, To: e.To, At: e.At, Reason: e.Reason, Actor: e.Actor})
	}}))
	if err != nil {
		return nil, err
	}
	if _, err := reg.Apply(doc); err != nil {
		return nil, fmt.Errorf("replay: the policy document does not apply: %w", err)
	}

	steps := make([]step, 0, 2*len(rec.Events))
	for i := range rec.Events {
		e := &rec.Events[i]
		if rep.From.IsZero() || e.At.Before(rep.From) {
			rep.From = e.At
		}
		if e.At.After(rep.To) {
			rep.To = e.At
		}
		switch e.Kind {
		case record.KindCall:
			gr := guard(e.Guard)
			gr.Recorded.Calls++
			if e.ResultValue() == breaker.Failure {
				gr.Recorded.Failed++
			}
			steps = append(steps, step{at: e.At.Add(-e.Latency()), ev: i}, step{at: e.At, ev: i, done: true})
		case record.KindReject:
			guard(e.Guard).Recorded.Rejected++
			steps = append(steps, step{at: e.At, ev: i})
		case record.KindState:
			gr := guard(e.Guard)
			from, _ := breaker.ParseState(e.From)
			to, _ := breaker.ParseState(e.To)
			gr.RecordedTransitions = append(gr.RecordedTransitions, Transition{From: from, To: to, At: e.At, Reason: e.Reason, Actor: e.Actor})
			if e.Actor != "" {
				rep.Overrides++
				steps = append(steps, step{at: e.At, ev: i})
			}
		case record.KindDrop:
			rep.Dropped += e.Count
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })

	ctx := context.Background()
	skipped := 0 // overrides not replayed
	guards := map[string]*core.Guard{}
	permits := map[int]core.Permit{}
	for _, s := range steps {
		e := &rec.Events[s.ev]
		g, ok := guards[e.Guard]
		if !ok {
			if g, err = reg.Guard(e.Guard); err != nil {
				return nil, fmt.Errorf("replay: guard %q: %w", e.Guard, err)
			}
			guards[e.Guard] = g
		}
		g.AdvanceAt(s.at)
		if e.Kind == record.KindState {
			to, _ := breaker.ParseState(e.To)
			if _, err := g.Breaker().OverrideAt(s.at, to, breaker.Manual{Actor: e.Actor, Reason: e.Reason}); err != nil {
				skipped++
			}
			continue
		}
		st := &guard(e.Guard).Replayed
		if s.done {
			p, ok := permits[s.ev]
			if !ok {
				continue // rejected by the replay
			}
			delete(permits, s.ev)
			r := e.ResultValue()
			if r == breaker.Failure {
				st.Failed++
			}
			p.ReportAt(s.at, r, nil)
			continue
		}
		p, err := g.AllowAt(ctx, s.at)
		if err != nil {
			st.Rejected++
			continue
		}
		st.Calls++
		if e.Kind == record.KindCall {
			permits[s.ev] = p
		} else {
			st.Unknown++
			p.ReportAt(s.at, breaker.Ignore, nil)
		}
	}
	for _, g := range guards {
		g.AdvanceAt(rep.To)
	}

	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	jitter := false
	for _, n := range names {
		gr := byName[n]
		if g, ok := guards[n]; ok {
			gr.Policy = g.Policy().Name
			jitter = jitter || g.Breaker().Config().OpenJitter > 0
		} else if p, _, err := reg.PolicyFor(n); err == nil {
			gr.Policy = p.Name
		}
		gr.Recorded.Trips, gr.Recorded.TimeOpen = summarise(gr.RecordedTransitions, rep.From, rep.To)
		gr.Replayed.Trips, gr.Replayed.TimeOpen = summarise(gr.ReplayedTransitions, rep.From, rep.To)
		rep.Guards = append(rep.Guards, *gr)
	}
	if rec.SampleEvery > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the recording holds 1 in %d calls: count thresholds see %d times fewer calls than the real run did", rec.SampleEvery, rec.SampleEvery))
	}
	if rep.Dropped > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the recorder dropped %d events: the recording has gaps", rep.Dropped))
	}
	if skipped > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d of the %d manual overrides were opens for a while, not replayed", skipped, rep.Overrides))
	}
	if jitter {
		rep.Notes = append(rep.Notes, "a replayed policy has open-duration jitter: replays differ from run to run")
	}
	return rep, nil
}

// summarise counts the automatic openings in ts and the time spent open or
// forced open between from and to. The state before the first transition
// is that transition's From (closed when there is none).
func summarise(ts []Transition, from, to time.Time) (trips int, open core.Duration) {
	state, since := breaker.Closed, from
	if len(ts) > 0 {
		state = ts[0].From
	}
	for _, t := range ts {
		if isOpen(state) && t.At.After(since) {
			open += core.Duration(t.At.Sub(since))
		}
		if t.To == breaker.Open && t.Actor == "" {
			trips++
		}
		state, since = t.To, t.At
	}
	if isOpen(state) && to.After(since) {
		open += core.Duration(to.Sub(since))
	}
	return trips, open
}

func isOpen(s breaker.State) bool { return s == breaker.Open || s == breaker.ForcedOpen }

// Text renders the report as a table: each figure as recorded -> replayed.
func (r *Report) Text() string {
	var b strings.Builder
	sampling := "every call recorded"
	if r.SampleEvery > 1 {
		sampling = fmt.Sprintf("1 in %d calls recorded", r.SampleEvery)
	}
	fmt.Fprintf(&b, "replay of %d events from %s to %s (%s)\n", r.Events, r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339), sampling)
	rows := [][]string{{"GUARD", "POLICY", "TRIPS", "TIME OPEN", "REJECTED", "FAILED", "UNKNOWN"}}
	for _, g := range r.Guards {
		a, z := g.Recorded, g.Replayed
		rows = append(rows, []string{g.Guard, g.Policy,
			pair(a.Trips, z.Trips), roundMs(a.TimeOpen) + " -> " + roundMs(z.TimeOpen),
			pair(a.Rejected, z.Rejected), pair(a.Failed, z.Failed), fmt.Sprint(z.Unknown)})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			if i == len(row)-1 {
				b.WriteString(c + "\n")
			} else {
				b.WriteString(c + strings.Repeat(" ", widths[i]-len(c)+2))
			}
		}
	}
	for _, n := range r.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}

func roundMs(d core.Duration) string { return time.Duration(d).Round(time.Millisecond).String() }

func pair(a, b int) string { return fmt.Sprintf("%d -> %d", a, b) }
