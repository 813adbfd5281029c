package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one change fed to a tracker in the table tests: at offset, the
// guard moves from -> to. A zero to means "call due at offset".
type step struct {
	at       time.Duration
	from, to breaker.State
	due      bool
	reason   string
}

func ch(at time.Duration, from, to breaker.State) step { return step{at: at, from: from, to: to} }
func dueAt(at time.Duration) step                      { return step{at: at, due: true} }

// run feeds steps to a tracker for rule r and returns the emitted events
// as "type@offset(suppressed)" strings.
func run(t *testing.T, r Rule, steps ...step) ([]string, *counters) {
	t.Helper()
	ctr := new(counters)
	tr := newTracker(r, nil, ctr)
	var got []string
	emit := func(e Event) {
		s := fmt.Sprintf("%s@%s", e.Type, e.At.Sub(t0))
		if e.Suppressed > 0 {
			s += fmt.Sprintf("(%d)", e.Suppressed)
		}
		if e.Type == Resolved {
			s += " after " + time.Duration(e.IncidentDuration).String()
		}
		got = append(got, s)
	}
	for _, s := range steps {
		if s.due {
			tr.due(t0.Add(s.at), emit)
			continue
		}
		tr.observe(change{guard: "g", tr: breaker.Transition{From: s.from, To: s.to, At: t0.Add(s.at), Reason: s.reason}}, emit)
	}
	return got, ctr
}

const (
	cl = breaker.Closed
	op = breaker.Open
	ho = breaker.HalfOpen
	fo = breaker.ForcedOpen
	di = breaker.Disabled
	mo = breaker.MetricsOnly
)

func TestTracker(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		rule  Rule
		steps []step
		want  string
		short uint64
	}{
		{
			name:  "open and resolve",
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, cl)},
			want:  "opened@0s resolved@11s after 11s",
		},
		{
			name:  "failed probes reopen without a second opened",
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, op), ch(31*s, op, ho), ch(32*s, ho, op), ch(72*s, op, ho), ch(73*s, ho, cl)},
			want:  "opened@0s resolved@1m13s(2) after 1m13s",
		},
		{
			name:  "dedup window lets a reminder through",
			rule:  Rule{DedupWindow: core.Duration(time.Minute)},
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, op), ch(70*s, op, ho), ch(71*s, ho, op), ch(80*s, op, cl)},
			want:  "opened@0s opened@1m11s(1) resolved@1m20s after 1m20s",
		},
		{
			name:  "dedup off",
			rule:  Rule{DedupWindow: -1},
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, op), ch(12*s, op, cl)},
			want:  "opened@0s opened@11s resolved@12s after 12s",
		},
		{
			name:  "half-open subscribed, deduplicated",
			rule:  Rule{On: []Kind{Opened, HalfOpen, Resolved}},
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, op), ch(20*s, op, ho), ch(21*s, ho, cl)},
			want:  "opened@0s half-open@10s resolved@21s(2) after 21s",
		},
		{
			name:  "short incident sends nothing",
			rule:  Rule{MinOpen: core.Duration(30 * s)},
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, cl), dueAt(40 * s)},
			want:  "",
			short: 1,
		},
		{
			name:  "long incident sends after MinOpen",
			rule:  Rule{MinOpen: core.Duration(30 * s)},
			steps: []step{ch(0, cl, op), ch(10*s, op, ho), ch(11*s, ho, op), dueAt(29 * s), dueAt(30 * s), ch(50*s, op, ho), ch(51*s, ho, cl)},
			want:  "opened@0s(2) resolved@51s after 51s",
		},
		{
			name:  "close seen after the hold ended but before due ran",
			rule:  Rule{MinOpen: core.Duration(30 * s)},
			steps: []step{ch(0, cl, op), ch(31*s, op, cl)},
			want:  "opened@0s resolved@31s after 31s",
		},
		{
			name:  "forced open and released",
			steps: []step{ch(0, cl, fo), ch(5*s, fo, cl)},
			want:  "forced-open@0s resolved@5s after 5s",
		},
		{
			name:  "disabled during an incident resolves it",
			steps: []step{ch(0, cl, op), ch(5*s, op, di), ch(9*s, di, cl)},
			want:  "opened@0s resolved@5s after 5s",
		},
		{
			name:  "closed, disabled, metrics-only outside incidents only when asked",
			rule:  Rule{On: []Kind{Closed, Disabled, MetricsOnly}},
			steps: []step{ch(0, cl, di), ch(1*s, di, cl), ch(2*s, cl, mo), ch(3*s, mo, op), ch(4*s, op, cl)},
			want:  "disabled@0s closed@1s metrics-only@2s",
		},
		{
			name:  "default kinds ignore closed",
			steps: []step{ch(0, cl, di), ch(1*s, di, cl)},
			want:  "",
		},
		{
			name:  "a new incident always notifies",
			steps: []step{ch(0, cl, op), ch(1*s, op, cl), ch(2*s, cl, op), ch(3*s, op, cl)},
			want:  "opened@0s resolved@1s after 1s opened@2s resolved@3s after 1s",
		},
		{
			name:  "half-open starts an incident it missed the start of",
			steps: []step{ch(0, op, ho), ch(1*s, ho, cl)},
			want:  "resolved@1s after 1s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ctr := run(t, tt.rule, tt.steps...)
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("events:\n got %q\nwant %q", s, tt.want)
			}
			if n := ctr.short.Load(); n != tt.short {
				t.Errorf("short = %d, want %d", n, tt.short)
			}
		})
	}
}

func TestTrackerIncidentFields(t *testing.T) {
	tr := newTracker(Rule{Name: "r"}, nil, nil)
	var evs []Event
	emit := func(e Event) { evs = append(evs, e) }
	tr.observe(change{"g", breaker.Transition{From: cl, To: op, At: t0, Reason: "failure rate 62.5% >= 50% over 40 calls",
		WindowCalls: 40, WindowFailures: 25, FailureRate: 62.5}}, emit)
	tr.observe(change{"g", breaker.Transition{From: op, To: cl, At: t0.Add(time.Minute), Reason: "probe succeeded"}}, emit)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	o, r := evs[0], evs[1]
	if o.IncidentID == "" || o.IncidentID != r.IncidentID {
		t.Errorf("incident ids %q, %q: want equal and set", o.IncidentID, r.IncidentID)
	}
	if !o.IncidentStart.Equal(t0) || !r.IncidentStart.Equal(t0) {
		t.Errorf("incident start %v, %v, want %v", o.IncidentStart, r.IncidentStart, t0)
	}
	if o.FailureRate == nil || *o.FailureRate != 62.5 {
		t.Errorf("failure rate = %v, want 62.5", o.FailureRate)
	}
	if r.FailureRate != nil {
		t.Errorf("resolved failure rate = %v, want nil", *r.FailureRate)
	}
	if o.Rule != "r" || o.Version != SchemaVersion || o.Guard != "g" {
		t.Errorf("event = %+v", o)
	}
	if len(tr.incidents) != 0 {
		t.Errorf("incident kept after it ended")
	}
}

func TestTrackerNext(t *testing.T) {
	tr := newTracker(Rule{MinOpen: core.Duration(time.Minute)}, nil, nil)
	if _, ok := tr.next(); ok {
		t.Fatal("next with nothing held")
	}
	emit := func(Event) { t.Error("emitted during hold") }
	tr.observe(change{"a", breaker.Transition{From: cl, To: op, At: t0.Add(time.Second)}}, emit)
	tr.observe(change{"b", breaker.Transition{From: cl, To: op, At: t0}}, emit)
	if at, ok := tr.next(); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next = %v, %v; want %v", at, ok, t0.Add(time.Minute))
	}
	if tr.held() != 2 {
		t.Fatalf("held = %d", tr.held())
	}
}

func TestTrackerSelects(t *testing.T) {
	tests := []struct {
		rule Rule
		name string
		tags []string
		want bool
	}{
		{Rule{}, "x", nil, true},
		{Rule{Guards: []string{"payments.*"}}, "payments.charge", nil, true},
		{Rule{Guards: []string{"payments.*"}}, "search", nil, false},
		{Rule{Tags: []string{"stripe"}}, "x", []string{"a", "stripe"}, true},
		{Rule{Tags: []string{"stripe"}}, "x", []string{"a"}, false},
		{Rule{Guards: []string{"a"}, Tags: []string{"t"}}, "b", []string{"t"}, true},
	}
	for _, tt := range tests {
		if got := newTracker(tt.rule, nil, nil).selects(tt.name, tt.tags); got != tt.want {
			t.Errorf("%+v selects(%q, %v) = %v, want %v", tt.rule, tt.name, tt.tags, got, tt.want)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		rule Rule
		want string
	}{
		{Rule{Guards: []string{"["}}, `guards: "[" is not a valid pattern`},
		{Rule{On: []Kind{"exploded"}}, `on: "exploded" is not a kind`},
		{Rule{MinOpen: -1}, `minOpen: -1ns must not be negative`},
		{Rule{Tags: []string{""}}, `tags: "" must not be empty`},
	}
	for _, tt := range tests {
		err := tt.rule.validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("validate(%+v) = %v, want %q", tt.rule, err, tt.want)
		}
	}
}

func TestFailureRateOf(t *testing.T) {
	trip := breaker.Transition{From: breaker.Closed, To: breaker.Open, WindowCalls: 40, WindowFailures: 25, FailureRate: 62.5}
	if got := failureRateOf(trip); got == nil || *got != 62.5 {
		t.Errorf("automatic trip: %v", got)
	}
	manual := trip
	manual.Actor = "alice"
	reopen := trip
	reopen.From = breaker.HalfOpen
	empty := trip
	empty.WindowCalls = 0
	for name, tr := range map[string]breaker.Transition{"manual": manual, "reopen": reopen, "empty window": empty} {
		if got := failureRateOf(tr); got != nil {
			t.Errorf("%s: %v, want nil", name, *got)
		}
	}
}

// A rule's "*" selected no gRPC or HTTP guard, whose names contain "/": it
// now matches as policies do (issue 15.7).
func TestRuleGuardPatternsMatchAsPolicies(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "/pkg.Svc/Method", true},
		{"*", "GET /quote/{sku}", true},
		{"/pkg.Svc/*", "/pkg.Svc/Method", true},
		{"/pkg.Svc/*", "/pkg.Other/Method", false},
		{"GET /*", "GET /quote/{sku}", false},
		{"GET /**", "GET /quote/{sku}", true},
		{"payments.*", "payments.charge", true},
	} {
		tr := &tracker{guards: []string{c.pattern}}
		if got := tr.selects(c.name, nil); got != c.want {
			t.Errorf("pattern %q on %q: %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}
