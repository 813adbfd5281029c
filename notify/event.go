package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// SchemaVersion is the version of the event schema: the JSON body of a
// webhook, the dead-letter records and the Event type. Fields may be added
// within a version (receivers must ignore fields they do not know); a field
// that is removed, renamed or changes meaning bumps the version.
const SchemaVersion = 1

// Kind is what happened to a guard, as a rule selects it and as an event
// reports it. The names are the breaker state a guard entered, except
// Opened (entered open) and Resolved (an incident that was notified ended).
type Kind string

// The kinds of event. A guard is in an incident while its breaker rejects
// calls (open, half-open or forced open); Resolved replaces Closed, Disabled
// or MetricsOnly for the change that ends an incident that was notified.
const (
	// Opened: the breaker opened (it tripped, a probe failed, or an
	// operator opened it for a while).
	Opened Kind = "opened"
	// HalfOpen: the open duration elapsed and the breaker probes.
	HalfOpen Kind = "half-open"
	// ForcedOpen: an operator forced the breaker open.
	ForcedOpen Kind = "forced-open"
	// Closed: the breaker closed, outside a notified incident (an
	// operator released a disabled breaker, say).
	Closed Kind = "closed"
	// Disabled: an operator disabled the breaker (forced it closed),
	// outside a notified incident.
	Disabled Kind = "disabled"
	// MetricsOnly: an operator put the breaker in metrics-only mode,
	// outside a notified incident.
	MetricsOnly Kind = "metrics-only"
	// Resolved: an incident that was notified ended; the guard admits calls
	// again (closed, or disabled or metrics-only by an operator: see
	// Event.To).
	Resolved Kind = "resolved"
)

// allKinds lists the kinds in a fixed order; a kindSet bit is an index here.
var allKinds = [...]Kind{Opened, HalfOpen, ForcedOpen, Closed, Disabled, MetricsOnly, Resolved}

// DefaultKinds are the kinds a Rule with an empty On list selects.
var DefaultKinds = []Kind{Opened, ForcedOpen, Resolved}

// ParseKind returns the Kind called s.
func ParseKind(s string) (Kind, error) {
	for _, k := range allKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("notify: unknown kind %q (want one of opened, half-open, forced-open, closed, disabled, metrics-only, resolved)", s)
}

// kindSet is a set of kinds, one bit per index in allKinds.
type kindSet uint8

func (s kindSet) has(k Kind) bool {
	for i, x := range allKinds {
		if x == k {
			return s&(1<<i) != 0
		}
	}
	return false
}

func (s *kindSet) add(k Kind) {
	for i, x := range allKinds {
		if x == k {
			*s |= 1 << i
		}
	}
}

// rejecting reports whether a breaker in state s turns calls away, which
// is what makes an incident.
func rejecting(s breaker.State) bool {
	return s == breaker.Open || s == breaker.HalfOpen || s == breaker.ForcedOpen
}

// kindOf returns the kind of a change into state to, before the incident
// logic turns an ending into Resolved.
func kindOf(to breaker.State) Kind {
	switch to {
	case breaker.Open:
		return Opened
	case breaker.HalfOpen:
		return HalfOpen
	case breaker.ForcedOpen:
		return ForcedOpen
	case breaker.Disabled:
		return Disabled
	case breaker.MetricsOnly:
		return MetricsOnly
	default:
		return Closed
	}
}

// Event is one notification: a guard's state change that a rule selected,
// with the incident it belongs to. Its JSON form is the webhook body (see
// the package documentation for the schema); every channel receives the
// same Event.
type Event struct {
	// Version is SchemaVersion.
	Version int `json:"version"`
	// ID identifies the event; it is the same on every channel and every
	// delivery attempt, so receivers de-duplicate redeliveries with it.
	ID string `json:"id"`
	// Type is the kind of event.
	Type Kind `json:"type"`
	// Sequence increases with every event the notifier emits. Events of
	// one guard reach each channel in Sequence order; a gap means events
	// were dropped (see ChannelStats.Dropped) or went to other channels.
	Sequence uint64 `json:"sequence"`
	// Rule is the name of the rule that selected the change.
	Rule string `json:"rule"`
	// Guard is the guard's name; Tags are its tags.
	Guard string   `json:"guard"`
	Tags  []string `json:"tags,omitempty"`
	// From and To are the breaker states of the change ("closed", "open",
	// "half-open", "forced-open", "disabled", "metrics-only").
	From breaker.State `json:"from"`
	To   breaker.State `json:"to"`
	// Reason says why the state changed; Actor is who made a manual change.
	Reason string `json:"reason,omitempty"`
	Actor  string `json:"actor,omitempty"`
	// At is when the state changed.
	At time.Time `json:"at"`
	// FailureRate is the failure rate (a percentage) that tripped the
	// breaker, when the change was a trip on the failure-rate rule; nil
	// otherwise.
	FailureRate *float64 `json:"failureRate,omitempty"`
	// OpenUntil is when an open breaker will probe again; zero when unknown
	// or not open.
	OpenUntil time.Time `json:"openUntil,omitzero"`
	// IncidentID identifies the incident (the span during which the guard
	// rejected calls) the event belongs to; every event of one incident
	// carries it. Empty for events outside an incident.
	IncidentID string `json:"incidentId,omitempty"`
	// IncidentStart is when the incident began.
	IncidentStart time.Time `json:"incidentStart,omitzero"`
	// IncidentDuration is how long the incident lasted (Resolved only),
	// as a duration string such as "2m30s" in JSON.
	IncidentDuration core.Duration `json:"incidentDuration,omitempty"`
	// Suppressed counts the changes of this incident since the previous
	// event that were not sent: duplicates within the rule's DedupWindow
	// and changes during its MinOpen.
	Suppressed int `json:"suppressed,omitempty"`
	// DashboardURL links to the guard on the dashboard, when the notifier
	// was given one (WithDashboardURL).
	DashboardURL string `json:"dashboardUrl,omitempty"`
}

// Title is a one-line summary of the event, such as
// "payments.charge opened" or "payments.charge resolved after 4m10s".
func (e *Event) Title() string {
	switch e.Type {
	case Resolved:
		s := e.Guard + " resolved"
		if d := roundDuration(time.Duration(e.IncidentDuration)); d > 0 {
			s += " after " + d.String()
		}
		if e.To != breaker.Closed {
			s += " (" + e.To.String() + ")"
		}
		return s
	case Opened:
		if e.From == breaker.HalfOpen {
			return e.Guard + " reopened"
		}
		return e.Guard + " opened"
	}
	return e.Guard + " " + string(e.Type)
}

// fields returns the event's details as label/value pairs for the
// human-readable channels (Slack, email, slog's message has its own attrs).
func (e *Event) fields() [][2]string {
	f := [][2]string{{"State", e.To.String()}}
	if e.Reason != "" {
		f = append(f, [2]string{"Reason", e.Reason})
	}
	if e.Actor != "" {
		f = append(f, [2]string{"By", e.Actor})
	}
	if e.FailureRate != nil {
		f = append(f, [2]string{"Failure rate", strconv.FormatFloat(*e.FailureRate, 'f', -1, 64) + "%"})
	}
	if !e.OpenUntil.IsZero() {
		f = append(f, [2]string{"Probing at", e.OpenUntil.UTC().Format(time.RFC3339)})
	}
	if !e.IncidentStart.IsZero() {
		f = append(f, [2]string{"Incident since", e.IncidentStart.UTC().Format(time.RFC3339)})
	}
	if e.Suppressed > 0 {
		f = append(f, [2]string{"Suppressed", strconv.Itoa(e.Suppressed) + " similar changes"})
	}
	if len(e.Tags) > 0 {
		f = append(f, [2]string{"Tags", strings.Join(e.Tags, ", ")})
	}
	f = append(f, [2]string{"At", e.At.UTC().Format(time.RFC3339)})
	return f
}

// roundDuration rounds d for display: to the second above a minute, to the
// millisecond above a second.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// failureRateOf returns the window's failure rate when the transition is
// an automatic trip from closed to open, nil otherwise.
func failureRateOf(t breaker.Transition) *float64 {
	if t.From != breaker.Closed || t.To != breaker.Open || t.Actor != "" || t.WindowCalls == 0 {
		return nil
	}
	v := t.FailureRate
	return &v
}
