package retry

import (
	"strings"
	"time"
)

// MaxRetryAfter caps every delay [ParseRetryAfter] returns, so that a huge
// or overflowing Retry-After value cannot turn into a wait of years or a
// negative duration.
const MaxRetryAfter = 24 * time.Hour

// The three HTTP-date forms of RFC 9110, section 5.6.7: the preferred
// IMF-fixdate and the obsolete RFC 850 and asctime forms. The first two
// must say GMT; asctime has no zone and is in UTC.
const (
	imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"
	rfc850Date = "Monday, 02-Jan-06 15:04:05 GMT"
	asctimeDay = "Mon Jan _2 15:04:05 2006"
)

// ParseRetryAfter parses a Retry-After field value (RFC 9110, section
// 10.2.3), for a server answer that asked the caller to wait: either
// delay-seconds, a non-negative decimal integer, or an HTTP-date, which is
// measured from now. Surrounding whitespace is ignored.
//
// It reports false, with 0, for a value that is neither (empty, negative,
// a fraction, a unit such as "10s", a date in another format or zone,
// garbage): callers should ignore such a hint rather than guess. A date in
// the past gives 0, true; any value above [MaxRetryAfter], however many
// digits it has, gives MaxRetryAfter, true. It never returns a negative
// duration and never panics; it uses only the time package, so core/retry
// does not depend on net/http.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		// delay-seconds; an HTTP-date starts with a day name, so anything
		// else starting with a digit ("1.5", "10s") is malformed.
		return parseSeconds(v)
	}
	if c := v[0] | 0x20; c < 'a' || c > 'z' {
		return 0, false // "-1", "+5": not a day name either
	}
	for _, layout := range [...]string{imfFixdate, rfc850Date, asctimeDay} {
		if t, err := time.Parse(layout, v); err == nil {
			return min(max(t.Sub(now), 0), MaxRetryAfter), true
		}
	}
	return 0, false
}

// parseSeconds parses a decimal integer count of seconds, saturating at
// MaxRetryAfter instead of overflowing.
func parseSeconds(v string) (time.Duration, bool) {
	const limit = int64(MaxRetryAfter / time.Second)
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
	return time.Duration(n) * time.Second, true
}
