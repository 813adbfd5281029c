package httpmw

import (
	"net/http"

	"github.com/breakerbox/breakerbox/shed"
)

// CriticalityHeaderName is the request header [WithShedder] reads a
// request's criticality from by default: "critical", "default" or
// "sheddable" (see shed.ParseCriticality).
const CriticalityHeaderName = "X-Request-Criticality"

// shedGuardName names the shedder in rejections.
const shedGuardName = "shed"

// WithShedder sheds load before any guard runs: each request is admitted by
// s (s.Acquire) with its criticality, which crit reads from the request (nil
// means [CriticalityHeader] of [CriticalityHeaderName]; a missing or
// unknown value is shed.Default). Sheddable requests are shed first and
// critical ones last (see shed.Shedder). A shed request is answered by the
// rejection writer as any rejection is, 503 with Retry-After (the
// shedder's RetryAfter), the guard named "shed" and the reason "load_shed";
// a request whose context ends while it waits in the shedder's queue is
// answered 503 without a body. An admitted request carries its criticality
// in its context (shed.FromContext) for the handler and for the GraphQL
// operation guard, and holds its shedder slot until the handler returns. A
// nil s turns shedding off. Middleware only.
func WithShedder(s *shed.Shedder, crit func(*http.Request) shed.Criticality) Option {
	return optionFunc(func(c *config) {
		if s == nil {
			c.shedder, c.criticality = nil, nil
			return
		}
		if crit == nil {
			crit = CriticalityHeader(CriticalityHeaderName)
		}
		c.shedder, c.criticality = s, crit
	})
}

// CriticalityHeader returns a criticality function for [WithShedder] that
// parses the request header name; a missing or unknown value is
// shed.Default.
func CriticalityHeader(name string) func(*http.Request) shed.Criticality {
	key := http.CanonicalHeaderKey(name)
	return func(r *http.Request) shed.Criticality {
		if v := r.Header[key]; len(v) > 0 {
			c, _ := shed.ParseCriticality(v[0])
			return c
		}
		return shed.Default
	}
}

// admitShed admits r through the shedder, or answers it and returns false.
// The ticket's Done gives the slot back; r carries its criticality.
func (h *handler) admitShed(w http.ResponseWriter, r *http.Request) (*http.Request, shed.Ticket, bool) {
	c := h.cfg.criticality(r)
	t, err := h.cfg.shedder.Acquire(r.Context(), c)
	if err != nil {
		if _, ok := err.(*shed.Rejection); ok {
			if h.mux != nil && r.Pattern == "" {
				h.key(r) // sets r.Pattern to the route, for the middleware outside
			}
			h.cfg.rejectWith(w, r, newRejection(shedGuardName, err))
			return r, t, false
		}
		// The request's context ended while it waited in the queue.
		w.WriteHeader(http.StatusServiceUnavailable)
		return r, t, false
	}
	return r.WithContext(shed.NewContext(r.Context(), c)), t, true
}
