package httpmw

import (
	"net/http"
	"strings"
	"time"
)

// MaxRetryAfter caps every retry-after hint the package reads from a
// response, so that a huge or overflowing value cannot turn into a wait of
// years or a negative duration.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses a Retry-After field value (RFC 9110, section 10.2.3):
// either a number of seconds or an HTTP date, which is measured from now.
// It reports false for a malformed value (a negative number, a fraction,
// garbage), which callers should ignore. A date in the past gives 0, and
// anything above [MaxRetryAfter], however large, gives MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, ok := parseSeconds(v, time.Second); ok {
		return d, true
	}
	if v[0] >= '0' && v[0] <= '9' {
		// Digits that are not all digits ("1.5", "10s"): not a date either.
		return 0, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return min(d, MaxRetryAfter), true
}

// parseSeconds parses a non-negative decimal integer count of unit,
// saturating at MaxRetryAfter instead of overflowing.
func parseSeconds(v string, unit time.Duration) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	limit := int64(MaxRetryAfter / unit)
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= limit {
			n = n*10 + int64(c-'0')
		}
	}
	if n > limit {
		return MaxRetryAfter, true
	}
	return time.Duration(n) * unit, true
}

// hints is what a response says about trying again.
type hints struct {
	after       time.Duration // wait at least this long; 0 if no hint
	noRetry     bool          // the server or a proxy asked not to retry
	rateLimited bool          // a proxy's rate limiter answered, not the service
}

// responseHints reads the retry hints of a response's header:
//
//   - Retry-After (seconds or an HTTP date), malformed values ignored;
//   - grpc-retry-pushback-ms, gRPC's server pushback: a delay in
//     milliseconds, where a negative or malformed value means "do not
//     retry";
//   - x-envoy-overloaded, set by Envoy when it shed the request: retrying
//     would only add to the overload, so it is not retried;
//   - x-envoy-ratelimited, set by Envoy's rate limiter: the service itself
//     did not fail.
func responseHints(h http.Header) hints {
	var out hints
	if v := h.Get("Retry-After"); v != "" {
		if d, ok := ParseRetryAfter(v, time.Now()); ok {
			out.after = d
		}
	}
	if vs, ok := h["Grpc-Retry-Pushback-Ms"]; ok {
		v := ""
		if len(vs) > 0 {
			v = strings.TrimSpace(vs[0])
		}
		if d, ok := parseSeconds(v, time.Millisecond); ok {
			out.after = max(out.after, d)
		} else {
			out.noRetry = true
		}
	}
	if _, ok := h["X-Envoy-Overloaded"]; ok {
		out.noRetry = true
	}
	if _, ok := h["X-Envoy-Ratelimited"]; ok {
		out.rateLimited = true
	}
	return out
}
