package httpmw

import (
	"net/http"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
)

// MaxRetryAfter caps every retry-after hint the package reads from a
// response (Retry-After and grpc-retry-pushback-ms), so that a huge or
// overflowing value cannot turn into a wait of years or a negative
// duration. It is [retry.MaxRetryAfter].
const MaxRetryAfter = retry.MaxRetryAfter

// ParseRetryAfter is [retry.ParseRetryAfter]: it parses a Retry-After field
// value, delay-seconds or an HTTP date measured from now, capped at
// MaxRetryAfter, and reports false for a malformed one.
//
// Deprecated: use retry.ParseRetryAfter (package
// github.com/breakerbox/breakerbox/core/retry), which packages that are not
// HTTP adapters can import without depending on httpmw.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	return retry.ParseRetryAfter(v, now)
}

// parseMillis parses grpc-retry-pushback-ms, a non-negative decimal integer
// count of milliseconds, saturating at MaxRetryAfter instead of overflowing.
func parseMillis(v string) (time.Duration, bool) {
	const unit = time.Millisecond
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
		if d, ok := retry.ParseRetryAfter(v, time.Now()); ok {
			out.after = d
		}
	}
	if vs, ok := h["Grpc-Retry-Pushback-Ms"]; ok {
		v := ""
		if len(vs) > 0 {
			v = strings.TrimSpace(vs[0])
		}
		if d, ok := parseMillis(v); ok {
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
