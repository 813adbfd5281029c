package notify

import (
	"fmt"
	"slices"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// DefaultDedupWindow is the DedupWindow of a Rule that leaves it zero.
const DefaultDedupWindow = time.Hour

// Rule selects the state changes to notify and the channels to send them
// to. It is plain data and encodes to and from JSON (durations as strings
// such as "30s").
//
// A guard's incident is the span during which its breaker rejects calls:
// it begins when the breaker enters open, half-open or forced-open and ends
// when it enters closed, disabled or metrics-only. Within an incident a
// rule sends each kind of event at most once per DedupWindow (a breaker
// whose probes keep failing reopens every open duration: its receivers hear
// "opened" once, then once per DedupWindow as a reminder), and when an
// incident it notified ends, it sends Resolved. An incident shorter than
// MinOpen sends nothing at all.
type Rule struct {
	// Name identifies the rule in events and errors; default "rule<index>".
	Name string `json:"name,omitempty"`
	// Guards lists guard-name patterns, matched as policies match them
	// (see core.MatchName): "*" alone selects every guard, "payments.*"
	// the guards whose names start with "payments.", "/pkg.Svc/*" every
	// method of a gRPC service, "GET /**" every HTTP route under "/". A guard is selected when its name matches one of
	// Guards or it carries one of Tags; with both empty, every guard is.
	Guards []string `json:"guards,omitempty"`
	// Tags selects guards carrying any of these tags.
	Tags []string `json:"tags,omitempty"`
	// On lists the kinds of event to send; empty means DefaultKinds
	// (opened, forced-open, resolved).
	On []Kind `json:"on,omitempty"`
	// MinOpen holds an incident's first event back until the incident has
	// lasted this long: an incident that ends sooner sends nothing (neither
	// its opening nor its resolution), and changes during the hold are
	// counted in the first event's Suppressed. Zero sends at once.
	MinOpen core.Duration `json:"minOpen,omitempty"`
	// DedupWindow is how long, within one incident, an event of a kind
	// already sent is suppressed; after it, the next one is sent again as a
	// reminder. Zero means DefaultDedupWindow (1h); negative turns
	// de-duplication off. Resolved is never suppressed, and a new incident
	// always notifies.
	DedupWindow core.Duration `json:"dedupWindow,omitempty"`
	// Channels names the channels (see WithChannel) to send to; empty
	// means every channel.
	Channels []string `json:"channels,omitempty"`
}

// validate reports the first problem with r, naming the field and value.
func (r *Rule) validate() error {
	for _, p := range r.Guards {
		if _, err := core.MatchName(p, ""); err != nil {
			return fmt.Errorf("guards: %q is not a valid pattern: %w", p, err)
		}
	}
	for _, t := range r.Tags {
		if t == "" {
			return fmt.Errorf("tags: %q must not be empty", t)
		}
	}
	for _, k := range r.On {
		if _, err := ParseKind(string(k)); err != nil {
			return fmt.Errorf("on: %q is not a kind (want one of opened, half-open, forced-open, closed, disabled, metrics-only, resolved)", k)
		}
	}
	if r.MinOpen < 0 {
		return fmt.Errorf("minOpen: %s must not be negative", r.MinOpen)
	}
	return nil
}

// change is a state change as the hook queues it.
type change struct {
	guard string
	tr    breaker.Transition
}

// tracker applies one rule to the changes of every guard it selects: it
// follows each guard's incident, holds events for MinOpen, suppresses
// duplicates and emits the events to send. It is owned by one goroutine
// (the notifier's dispatcher) and works on explicit times, so that tests
// drive it without a clock.
type tracker struct {
	name      string
	guards    []string
	tags      []string
	on        kindSet
	minOpen   time.Duration
	dedup     time.Duration // <= 0: off
	channels  []*channel
	incidents map[string]*incident

	ctr *counters // shared with the notifier's Stats
}

// incident is one guard's current incident under one rule.
type incident struct {
	id       string
	start    time.Time
	due      time.Time // start + MinOpen
	held     *Event    // the first event, until due
	notified bool      // the incident outlasted MinOpen
	sent     [len(allKinds)]time.Time
	pending  int // changes suppressed since the last event sent
}

func newTracker(r Rule, chans []*channel, ctr *counters) *tracker {
	if ctr == nil {
		ctr = new(counters)
	}
	t := &tracker{
		name:      r.Name,
		guards:    r.Guards,
		tags:      r.Tags,
		minOpen:   time.Duration(r.MinOpen),
		dedup:     time.Duration(r.DedupWindow),
		channels:  chans,
		incidents: make(map[string]*incident),
		ctr:       ctr,
	}
	on := r.On
	if len(on) == 0 {
		on = DefaultKinds
	}
	for _, k := range on {
		t.on.add(k)
	}
	if t.dedup == 0 {
		t.dedup = DefaultDedupWindow
	}
	return t
}

// selects reports whether the rule applies to the guard called name with
// the given tags.
func (t *tracker) selects(name string, tags []string) bool {
	if len(t.guards) == 0 && len(t.tags) == 0 {
		return true
	}
	for _, p := range t.guards {
		if ok, _ := core.MatchName(p, name); ok {
			return true
		}
	}
	for _, tag := range t.tags {
		if slices.Contains(tags, tag) {
			return true
		}
	}
	return false
}

// observe applies one change of a selected guard. emit receives each event
// to send, with Type, Rule, Guard, the transition and the incident filled
// in; the caller completes it (ID, Sequence, Tags, links).
func (t *tracker) observe(c change, emit func(Event)) {
	tr := c.tr
	inc := t.incidents[c.guard]
	if rejecting(tr.To) {
		e := t.event(c, kindOf(tr.To))
		if inc == nil {
			inc = &incident{id: newID(), start: tr.At}
			t.incidents[c.guard] = inc
			t.fill(&e, inc)
			if t.minOpen > 0 {
				inc.due = tr.At.Add(t.minOpen)
				inc.held = &e
				return
			}
			inc.notified = true
			t.send(inc, e, emit)
			return
		}
		t.fill(&e, inc)
		if !inc.notified {
			if !tr.At.Before(inc.due) {
				// The hold ended before this change; the dispatcher has
				// not run due yet.
				t.release(inc, emit)
				t.send(inc, e, emit)
				return
			}
			inc.pending++
			t.ctr.suppressed.Add(1)
			return
		}
		t.send(inc, e, emit)
		return
	}

	// The guard admits calls again.
	if inc == nil {
		if t.on.has(kindOf(tr.To)) {
			emit(t.event(c, kindOf(tr.To)))
		}
		return
	}
	delete(t.incidents, c.guard)
	if !inc.notified {
		if tr.At.Before(inc.due) {
			t.ctr.short.Add(1)
			return
		}
		t.release(inc, emit)
	}
	if !t.on.has(Resolved) {
		return
	}
	e := t.event(c, Resolved)
	t.fill(&e, inc)
	e.IncidentDuration = core.Duration(tr.At.Sub(inc.start))
	e.Suppressed, inc.pending = inc.pending, 0
	emit(e)
}

// due releases every held event whose MinOpen has passed at now.
func (t *tracker) due(now time.Time, emit func(Event)) {
	for _, inc := range t.incidents {
		if inc.held != nil && !now.Before(inc.due) {
			t.release(inc, emit)
		}
	}
}

// next returns the earliest time a held event is due, if any is held.
func (t *tracker) next() (time.Time, bool) {
	var min time.Time
	for _, inc := range t.incidents {
		if inc.held != nil && (min.IsZero() || inc.due.Before(min)) {
			min = inc.due
		}
	}
	return min, !min.IsZero()
}

// held counts the events waiting for MinOpen.
func (t *tracker) held() int {
	n := 0
	for _, inc := range t.incidents {
		if inc.held != nil {
			n++
		}
	}
	return n
}

// release ends an incident's MinOpen hold and sends its first event.
func (t *tracker) release(inc *incident, emit func(Event)) {
	inc.notified = true
	e := inc.held
	inc.held = nil
	if e != nil {
		t.send(inc, *e, emit)
	}
}

// send emits e unless the rule does not want its kind or it repeats, within
// DedupWindow, an event of the same kind sent in this incident.
func (t *tracker) send(inc *incident, e Event, emit func(Event)) {
	if !t.on.has(e.Type) {
		return
	}
	i := slices.Index(allKinds[:], e.Type)
	if last := inc.sent[i]; t.dedup > 0 && !last.IsZero() && e.At.Sub(last) < t.dedup {
		inc.pending++
		t.ctr.suppressed.Add(1)
		return
	}
	inc.sent[i] = e.At
	e.Suppressed, inc.pending = inc.pending, 0
	emit(e)
}

func (t *tracker) event(c change, k Kind) Event {
	return Event{
		Version:     SchemaVersion,
		Type:        k,
		Rule:        t.name,
		Guard:       c.guard,
		From:        c.tr.From,
		To:          c.tr.To,
		Reason:      c.tr.Reason,
		Actor:       c.tr.Actor,
		At:          c.tr.At,
		FailureRate: failureRateOf(c.tr),
	}
}

func (t *tracker) fill(e *Event, inc *incident) {
	e.IncidentID = inc.id
	e.IncidentStart = inc.start
}
