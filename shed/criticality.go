package shed

import (
	"context"
	"strings"
)

// Criticality says how much a request matters when the server must turn
// some away. The zero value is Default. Under overload a [Shedder] sheds
// Sheddable requests first, then Default ones, and Critical ones last.
type Criticality uint8

const (
	// Default is the criticality of a request that names none.
	Default Criticality = iota
	// Sheddable requests are shed first: prefetches, batch jobs, retries a
	// client can make later.
	Sheddable
	// Critical requests are shed last: those a user waits on and that have
	// no retry, such as a checkout.
	Critical
)

// String returns "default", "sheddable" or "critical" (and "default" for a
// value outside the three, which a Shedder treats as Default).
func (c Criticality) String() string {
	switch c {
	case Sheddable:
		return "sheddable"
	case Critical:
		return "critical"
	}
	return "default"
}

// ParseCriticality parses a criticality name, ignoring case and
// surrounding space: "critical", "default" or "sheddable"; also the names
// of Google's criticality levels, "critical_plus" (as critical) and
// "sheddable_plus" (as default). An empty s is Default. ok is false for any
// other s, which callers should treat as Default rather than refuse: a
// request should not fail because of its priority header.
func ParseCriticality(s string) (c Criticality, ok bool) {
	s = strings.TrimSpace(s)
	switch {
	case s == "", strings.EqualFold(s, "default"), strings.EqualFold(s, "sheddable_plus"):
		return Default, true
	case strings.EqualFold(s, "critical"), strings.EqualFold(s, "critical_plus"):
		return Critical, true
	case strings.EqualFold(s, "sheddable"):
		return Sheddable, true
	}
	return Default, false
}

// rank orders the criticalities by when they are shed: 0 first (Sheddable),
// 2 last (Critical). A value outside the three ranks as Default.
func (c Criticality) rank() int {
	switch c {
	case Sheddable:
		return 0
	case Critical:
		return 2
	}
	return 1
}

// numRanks is the number of criticalities.
const numRanks = 3

// byRank is the criticality of each rank.
var byRank = [numRanks]Criticality{Sheddable, Default, Critical}

// ctxKey is the context key of a request's criticality.
type ctxKey struct{}

// NewContext returns a copy of ctx carrying c, so that code further in
// (a GraphQL operation guard behind the HTTP middleware, a handler that
// calls other services) sees the criticality the edge read.
func NewContext(ctx context.Context, c Criticality) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the criticality NewContext put in ctx, and whether
// there was one.
func FromContext(ctx context.Context) (Criticality, bool) {
	c, ok := ctx.Value(ctxKey{}).(Criticality)
	return c, ok
}
