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
//
// # Policy versions
//
// A recording holds the live policy version (record.KindPolicy events):
// the version when the recorder was attached and each later one. The
// report splits the recording into one segment per version (Report.Segments,
// GuardReport.Segments), for the recorded run and the replay alike.
//
// Run replays the whole recording under one document, whatever the
// recording says was live: "what would this document have done?". RunWith
// with Options.Versions follows the recording instead: at each policy
// event it applies that version's document to the replayed registry with
// core.Registry.Apply, a hot reload as in production (guards keep their
// state and counters; a changed threshold applies from then on), so that a
// recording of a run whose policy changed replays as it ran. StoreVersions
// reads the versions from a policy.Store (the history policy.Manager keeps).
//
// An attached recorder notices a new version within a second of the change
// (it reads the registry's version as it flushes); calls in between count
// under the old version. Whoever applies documents can record the change
// at once with record.Recorder.Policy, right after the apply.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/policy"
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
	// Segments holds the guard's figures per policy version, in the order
	// of Report.Segments; empty when the recording has one version only.
	Segments []SegmentStats `json:"segments,omitempty"`
}

// Segment is a stretch of the recording during which one policy version
// was live in the recorded run.
type Segment struct {
	// Version and Hash name the version the recording says was live (0 and
	// "" before the recording names one).
	Version uint64 `json:"version"`
	Hash    string `json:"hash,omitempty"`
	// From and To bound the segment (To is the next segment's From, or the
	// recording's end).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// ReplayedVersion is the version the replay ran during the segment when
	// it follows versions (RunWith with Options.Versions), 0 when it ran the
	// document it was given.
	ReplayedVersion uint64 `json:"replayedVersion,omitempty"`
}

// SegmentStats are one guard's figures during one Segment. A call counts
// in the segment in which it ended (its recorded end, in both runs); trips
// and time open count where they happened.
type SegmentStats struct {
	Version  uint64 `json:"version"`
	Recorded Stats  `json:"recorded"`
	Replayed Stats  `json:"replayed"`
}

// Options configures RunWith.
type Options struct {
	// Versions, when set, makes the replay follow the recording's policy
	// versions: it returns the document of version v, which the replay
	// applies (core.Registry.Apply, keeping the guards' state) where the
	// recording says v became live. The document given to RunWith runs
	// until the first version it can apply; an empty one (no policies) is
	// replaced by the first version's from the start. A version Versions
	// cannot give, or whose document does not apply, is noted and skipped:
	// the version before stays.
	Versions func(v uint64) (core.Document, error)
}

// StoreVersions returns an Options.Versions that reads versions from a
// policy.Store (the history a policy.Manager keeps), checking each
// document against its stored hash.
func StoreVersions(ctx context.Context, s policy.Store) func(v uint64) (core.Document, error) {
	return func(v uint64) (core.Document, error) {
		rec, err := s.Get(ctx, v)
		if err != nil {
			return core.Document{}, err
		}
		var doc core.Document
		if err := json.Unmarshal(rec.Document, &doc); err != nil {
			return core.Document{}, fmt.Errorf("replay: version %d: decoding the stored document: %w", v, err)
		}
		if h := doc.Hash(); h != rec.Hash {
			return core.Document{}, fmt.Errorf("replay: version %d: the stored document hashes to %s, not the stored %s", v, h, rec.Hash)
		}
		return doc, nil
	}
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
	// Segments splits the recording by the policy version live in the
	// recorded run, in time order; one segment when the version never
	// changed.
	Segments []Segment `json:"segments,omitempty"`
	// FollowsVersions says that the replay applied the recorded versions
	// (RunWith with Options.Versions).
	FollowsVersions bool `json:"followsVersions,omitempty"`
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
// report. It fails only when doc does not apply. The recording's policy
// versions split the report into segments, but the replay runs doc
// throughout; RunWith follows the versions.
func Run(rec *record.Recording, doc core.Document) (*Report, error) {
	return RunWith(rec, doc, Options{})
}

// RunWith is Run with options: with opts.Versions, the replay applies each
// policy version where the recording says it became live (see Options).
// It fails when doc does not apply, or when doc is empty and no version
// the recording names can be had from opts.Versions.
func RunWith(rec *record.Recording, doc core.Document, opts Options) (*Report, error) {
	rep := &Report{SampleEvery: rec.SampleEvery, Events: len(rec.Events), FollowsVersions: opts.Versions != nil}
	byName := map[string]*guardAcc{}
	guard := func(name string) *guardAcc {
		gr, ok := byName[name]
		if !ok {
			gr = &guardAcc{GuardReport: GuardReport{Guard: name}}
			byName[name] = gr
		}
		return gr
	}
	// Every version is read once (a store may be slow), and the fallbacks
	// any document names get stand-ins: fallbacks are not replayed, but a
	// document that names them must apply.
	if opts.Versions != nil {
		opts.Versions = memoVersions(opts.Versions)
	}
	fallbacks := doc.FallbackNames()
	if opts.Versions != nil {
		for i := range rec.Events {
			if e := &rec.Events[i]; e.Kind == record.KindPolicy && e.Version != 0 {
				if d, err := opts.Versions(e.Version); err == nil {
					fallbacks = append(fallbacks, d.FallbackNames()...)
				}
			}
		}
	}
	regOpts := []core.Option{core.WithHooks(core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) {
		gr := guard(e.Guard)
		gr.ReplayedTransitions = append(gr.ReplayedTransitions, Transition{From: e.From, To: e.To, At: e.At, Reason: e.Reason, Actor: e.Actor})
	}})}
	slices.Sort(fallbacks)
	for _, name := range slices.Compact(fallbacks) {
		regOpts = append(regOpts, core.WithFallback(name, func(context.Context, fallback.Cause) (any, error) {
			return nil, errors.New("replay: fallbacks are not replayed")
		}))
	}
	if len(fallbacks) > 0 {
		rep.Notes = append(rep.Notes, "fallbacks are not replayed: a call the replay rejects counts as rejected, whatever a fallback would have answered")
	}
	reg, err := core.NewRegistry(regOpts...)
	if err != nil {
		return nil, err
	}

	for i := range rec.Events {
		e := &rec.Events[i]
		if rep.From.IsZero() || e.At.Before(rep.From) {
			rep.From = e.At
		}
		if e.At.After(rep.To) {
			rep.To = e.At
		}
	}
	rep.Segments = segmentsOf(rec, rep.From, rep.To)

	// The document the replay starts with.
	var notes []string
	live := uint64(0) // the version the replayed registry runs; 0: doc
	if opts.Versions != nil && len(doc.Policies) == 0 {
		for _, sg := range rep.Segments {
			if sg.Version == 0 {
				continue
			}
			d, err := opts.Versions(sg.Version)
			if err != nil {
				notes = append(notes, fmt.Sprintf("policy version %d: %v", sg.Version, err))
				continue
			}
			if sg.Hash != "" && d.Hash() != sg.Hash {
				notes = append(notes, fmt.Sprintf("policy version %d: the document given hashes to %s, the recording says %s", sg.Version, d.Hash(), sg.Hash))
			}
			doc, live = d, sg.Version
			break
		}
		if live == 0 {
			return nil, errors.New("replay: no policy version the recording names could be had, and no document was given: " + strings.Join(notes, "; "))
		}
	}
	pols, dropped := doc.WithoutOperations()
	if len(dropped) > 0 {
		notes = append(notes, fmt.Sprintf("the document's %s not replayed: the recording holds what they did, as overrides", strings.Join(dropped, " and ")+sectionWord(len(dropped))))
	}
	if _, err := reg.Apply(pols); err != nil {
		return nil, fmt.Errorf("replay: the policy document does not apply: %w", err)
	}
	if opts.Versions != nil {
		rep.Segments[0].ReplayedVersion = live
	}

	steps := make([]step, 0, 2*len(rec.Events))
	for i := range rec.Events {
		e := &rec.Events[i]
		switch e.Kind {
		case record.KindCall:
			gr := guard(e.Guard)
			st := gr.recorded(rep, e.At)
			st.Calls++
			gr.Recorded.Calls++
			if e.ResultValue() == breaker.Failure {
				st.Failed++
				gr.Recorded.Failed++
			}
			steps = append(steps, step{at: e.At.Add(-e.Latency()), ev: i}, step{at: e.At, ev: i, done: true})
		case record.KindReject:
			gr := guard(e.Guard)
			gr.Recorded.Rejected++
			gr.recorded(rep, e.At).Rejected++
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
		case record.KindPolicy:
			if opts.Versions != nil {
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
	seg := 0 // the segment of the current step
	for _, s := range steps {
		for seg+1 < len(rep.Segments) && !s.at.Before(rep.Segments[seg+1].From) {
			seg++
		}
		e := &rec.Events[s.ev]
		if e.Kind == record.KindPolicy {
			if e.Version == live || e.Version == 0 {
				continue
			}
			d, err := opts.Versions(e.Version)
			if err == nil {
				// What the guards' timers did before the change, they did
				// under the version before (a probe timeout, say).
				for _, g := range guards {
					g.AdvanceAt(s.at)
				}
				pd, _ := d.WithoutOperations() // not replayed, as for the first version
				_, err = reg.Apply(pd)
			}
			if err != nil {
				notes = append(notes, fmt.Sprintf("policy version %d, live from %s, not followed (version %d kept): %v", e.Version, e.At.UTC().Format(time.RFC3339), live, err))
				continue
			}
			if e.Hash != "" && d.Hash() != e.Hash {
				notes = append(notes, fmt.Sprintf("policy version %d: the document given hashes to %s, the recording says %s", e.Version, d.Hash(), e.Hash))
			}
			live = e.Version
			rep.Segments[seg].ReplayedVersion = live
			continue
		}
		if opts.Versions != nil {
			rep.Segments[seg].ReplayedVersion = live
		}
		g, ok := guards[e.Guard]
		if !ok {
			if g, err = reg.Guard(e.Guard); err != nil {
				return nil, fmt.Errorf("replay: guard %q: %w", e.Guard, err)
			}
			guards[e.Guard] = g
		}
		g.AdvanceAt(s.at)
		if e.Kind == record.KindState {
			if opts.Versions != nil && e.Actor == "policy" {
				continue // the mode of an applied version: the apply made it
			}
			to, _ := breaker.ParseState(e.To)
			if _, err := g.Breaker().OverrideAt(s.at, to, breaker.Manual{Actor: e.Actor, Reason: e.Reason}); err != nil {
				skipped++
			}
			continue
		}
		gr := guard(e.Guard)
		// A call counts in the segment in which it ended, as recorded.
		st, sst := &gr.Replayed, gr.replayed(rep, segmentAt(rep.Segments, e.At))
		if s.done {
			p, ok := permits[s.ev]
			if !ok {
				continue // rejected by the replay
			}
			delete(permits, s.ev)
			r := e.ResultValue()
			if r == breaker.Failure {
				st.Failed++
				sst.Failed++
			}
			p.ReportAt(s.at, r, nil)
			continue
		}
		p, err := g.AllowAt(ctx, s.at)
		if err != nil {
			st.Rejected++
			sst.Rejected++
			continue
		}
		st.Calls++
		sst.Calls++
		if e.Kind == record.KindCall {
			permits[s.ev] = p
		} else {
			st.Unknown++
			sst.Unknown++
			p.ReportAt(s.at, breaker.Ignore, nil)
		}
	}
	for _, g := range guards {
		g.AdvanceAt(rep.To)
	}
	if opts.Versions != nil { // segments without a call run what ran before them
		for i := 1; i < len(rep.Segments); i++ {
			if rep.Segments[i].ReplayedVersion == 0 {
				rep.Segments[i].ReplayedVersion = rep.Segments[i-1].ReplayedVersion
			}
		}
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
		if len(rep.Segments) > 1 {
			gr.Segments = make([]SegmentStats, len(rep.Segments))
			for i, sg := range rep.Segments {
				ss := &gr.Segments[i]
				ss.Version = sg.Version
				if i < len(gr.rec) {
					ss.Recorded = gr.rec[i]
				}
				if i < len(gr.rep) {
					ss.Replayed = gr.rep[i]
				}
				last := i == len(rep.Segments)-1
				ss.Recorded.Trips, ss.Recorded.TimeOpen = summariseBetween(gr.RecordedTransitions, sg.From, sg.To, last)
				ss.Replayed.Trips, ss.Replayed.TimeOpen = summariseBetween(gr.ReplayedTransitions, sg.From, sg.To, last)
			}
		}
		rep.Guards = append(rep.Guards, gr.GuardReport)
	}
	if len(rep.Segments) <= 1 && !rep.FollowsVersions {
		rep.Segments = nil
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
	if len(rep.Segments) > 1 && !rep.FollowsVersions {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the recorded run changed policy version %d times; the replay ran one document throughout", len(rep.Segments)-1))
	}
	rep.Notes = append(rep.Notes, notes...)
	return rep, nil
}

// guardAcc is a GuardReport being built, with its per-segment figures.
type guardAcc struct {
	GuardReport
	rec, rep []Stats // per segment
}

// recorded returns the guard's recorded figures of the segment holding t.
func (g *guardAcc) recorded(rep *Report, t time.Time) *Stats {
	i := segmentAt(rep.Segments, t)
	for len(g.rec) <= i {
		g.rec = append(g.rec, Stats{})
	}
	return &g.rec[i]
}

// replayed returns the guard's replayed figures of segment i.
func (g *guardAcc) replayed(rep *Report, i int) *Stats {
	for len(g.rep) <= i {
		g.rep = append(g.rep, Stats{})
	}
	return &g.rep[i]
}

// segmentsOf splits the recording [from, to] by its policy events: a new
// segment starts where the live version changes. Before the first policy
// event the version is unknown (0); a segment that would start where the
// one before starts replaces it.
func segmentsOf(rec *record.Recording, from, to time.Time) []Segment {
	var pol []*record.Event
	for i := range rec.Events {
		if e := &rec.Events[i]; e.Kind == record.KindPolicy {
			pol = append(pol, e)
		}
	}
	slices.SortStableFunc(pol, func(a, b *record.Event) int { return a.At.Compare(b.At) })
	segs := []Segment{{From: from, To: to}}
	for _, e := range pol {
		cur := &segs[len(segs)-1]
		if e.Version == cur.Version && (e.Hash == cur.Hash || e.Hash == "") {
			continue
		}
		if !e.At.After(cur.From) {
			cur.Version, cur.Hash = e.Version, e.Hash
			continue
		}
		cur.To = e.At
		segs = append(segs, Segment{Version: e.Version, Hash: e.Hash, From: e.At, To: to})
	}
	return segs
}

// segmentAt returns the index of the segment holding t.
func segmentAt(segs []Segment, t time.Time) int {
	i := 0
	for i+1 < len(segs) && !t.Before(segs[i+1].From) {
		i++
	}
	return i
}

// summariseBetween is summarise over the segment [from, to) (to included
// for the last segment): the state at from is the one the transitions
// before it left.
func summariseBetween(ts []Transition, from, to time.Time, last bool) (trips int, open core.Duration) {
	state := breaker.Closed
	if len(ts) > 0 {
		state = ts[0].From
	}
	since := from
	for _, t := range ts {
		if t.At.Before(from) {
			state = t.To
			continue
		}
		if t.At.After(to) || (t.At.Equal(to) && !last) {
			break
		}
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
	if len(r.Segments) > 1 {
		r.segmentText(&b)
	}
	for _, n := range r.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}

// segmentText writes the figures per policy version.
func (r *Report) segmentText(b *strings.Builder) {
	for i, sg := range r.Segments {
		v := "unknown version"
		if sg.Version > 0 {
			v = "version " + fmt.Sprint(sg.Version)
		}
		under := ""
		switch {
		case !r.FollowsVersions:
			under = ", replayed under the document given"
		case sg.ReplayedVersion > 0:
			under = fmt.Sprintf(", replayed under version %d", sg.ReplayedVersion)
		}
		fmt.Fprintf(b, "\n%s, %s to %s%s:\n", v, sg.From.UTC().Format("15:04:05.000"), sg.To.UTC().Format("15:04:05.000"), under)
		rows := [][]string{{"  GUARD", "TRIPS", "TIME OPEN", "REJECTED", "FAILED"}}
		for _, g := range r.Guards {
			if i >= len(g.Segments) {
				continue
			}
			a, z := g.Segments[i].Recorded, g.Segments[i].Replayed
			rows = append(rows, []string{"  " + g.Guard, pair(a.Trips, z.Trips), roundMs(a.TimeOpen) + " -> " + roundMs(z.TimeOpen), pair(a.Rejected, z.Rejected), pair(a.Failed, z.Failed)})
		}
		writeTable(b, rows)
	}
}

// writeTable writes rows as left-aligned columns.
func writeTable(b *strings.Builder, rows [][]string) {
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
}

func roundMs(d core.Duration) string { return time.Duration(d).Round(time.Millisecond).String() }

func pair(a, b int) string { return fmt.Sprintf("%d -> %d", a, b) }

// memoVersions reads each version from versions once.
func memoVersions(versions func(uint64) (core.Document, error)) func(uint64) (core.Document, error) {
	type got struct {
		doc core.Document
		err error
	}
	seen := map[uint64]got{}
	return func(v uint64) (core.Document, error) {
		g, ok := seen[v]
		if !ok {
			g.doc, g.err = versions(v)
			seen[v] = g
		}
		return g.doc, g.err
	}
}

// sectionWord completes "the document's maintenance and chaos ...".
func sectionWord(n int) string {
	if n > 1 {
		return " sections are"
	}
	return " section is"
}
