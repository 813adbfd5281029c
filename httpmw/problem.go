package httpmw

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/breakerbox/breakerbox/core"
)

// Rejection describes a request the middleware turned away, for a
// [RejectionWriter].
type Rejection struct {
	// Guard names the guard that refused the request; "ratelimit" for the
	// middleware's per-key limiter.
	Guard string
	// Err is the rejection: a *core.RejectedError from the guard, or
	// ratelimit.ErrLimited from the middleware's per-key limiter. It matches
	// core.ErrRejected.
	Err error
	// Reason is the rejection's telemetry type (core.ErrorType): such as
	// "circuit_open", "bulkhead_full" or "rate_limited".
	Reason string
	// Status is the status the default writer answers with: 429 for a rate
	// limit, 503 for everything else (an open breaker, a full bulkhead, load
	// shedding).
	Status int
	// RetryAfter is when the client may try again; 0 when unknown.
	RetryAfter time.Duration
	// RateLimit describes the rate limit that refused the request, for the
	// RateLimit and RateLimit-Policy fields; its zero value means unknown.
	RateLimit RateLimit
}

// RateLimit describes a rate-limit policy as the IETF RateLimit header
// fields (draft-ietf-httpapi-ratelimit-headers) carry it.
type RateLimit struct {
	// Policy names the policy in the fields; "default" when empty.
	Policy string
	// Quota is the number of requests allowed per Window; zero when unknown,
	// in which case no RateLimit-Policy field is sent.
	Quota int64
	// Window is the policy's time window.
	Window time.Duration
}

// RejectionWriter answers a rejected request. Replace the default,
// [WriteRejection], with [WithRejectionWriter].
type RejectionWriter func(w http.ResponseWriter, r *http.Request, rej Rejection)

// newRejection describes err, a rejection by guard, for a RejectionWriter.
func newRejection(guard string, err error) Rejection {
	rej := Rejection{Guard: guard, Err: err, Reason: core.ErrorType(err), Status: http.StatusServiceUnavailable}
	if rej.Reason == reasonRateLimited {
		rej.Status = http.StatusTooManyRequests
		rej.RateLimit.Policy = guard
	}
	rej.RetryAfter, _ = core.RetryAfter(err)
	return rej
}

// reasonRateLimited is ratelimit.ErrLimited's error type; rejections of that
// type are answered 429 whichever primitive made them.
const reasonRateLimited = "rate_limited"

// WriteRejection is the default [RejectionWriter]. It answers rej.Status (503
// or 429) with:
//
//   - Retry-After in whole seconds, rounded up, and at least 1 (a client told
//     0 would come straight back);
//   - for a 429, the RateLimit field and, when the quota is known, the
//     RateLimit-Policy field of draft-ietf-httpapi-ratelimit-headers;
//   - Cache-Control: no-store, so that no cache keeps the refusal;
//   - an application/problem+json body (RFC 9457) with type "about:blank",
//     the status's title, a detail naming the guard and the reason, and the
//     extension members "guard", "reason" and "retryAfter" (seconds). When
//     rej.Guard is empty, the detail names nothing and "guard" is left out;
//     the middleware empties it under WithDetails(false).
func WriteRejection(w http.ResponseWriter, r *http.Request, rej Rejection) {
	writeRejection(w, r, rej, false)
}

// writeRejection is WriteRejection; with hide, the document names neither
// the guard nor anything else internal (see WithDetails).
func writeRejection(w http.ResponseWriter, r *http.Request, rej Rejection, hide bool) {
	status := rej.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if hide {
		rej.Guard = ""
		rej.RateLimit.Policy = ""
	}
	secs := retryAfterSeconds(rej.RetryAfter)
	bp := bufPool.Get().(*[]byte)
	body := appendProblem((*bp)[:0], status, rej, secs)

	// One allocation for the values of every field; each value slice has a
	// capacity of one, so that a later Add cannot write into its neighbour.
	vals := make([]string, 4)
	vals[0], vals[1] = "application/problem+json", "no-store"
	vals[2], vals[3] = strconv.FormatInt(secs, 10), strconv.Itoa(len(body))
	h := w.Header()
	h["Content-Type"] = vals[0:1:1]
	h["Cache-Control"] = vals[1:2:2]
	h["Retry-After"] = vals[2:3:3]
	h["Content-Length"] = vals[3:4:4]
	if status == http.StatusTooManyRequests {
		setRateLimitFields(h, rej.RateLimit, secs)
	}
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		// A write error means the client went away; there is nobody to tell.
		_, _ = w.Write(body)
	}
	*bp = body
	bufPool.Put(bp)
}

// bufPool holds the buffers problem documents are built in.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	if d <= time.Second {
		return 1
	}
	return int64((d + time.Second - 1) / time.Second)
}

// setRateLimitFields sets the RateLimit and RateLimit-Policy fields of a 429:
// no quota remains, and it resets in secs seconds.
func setRateLimitFields(h http.Header, rl RateLimit, secs int64) {
	name := rl.Policy
	if name == "" {
		name = "default"
	}
	b := appendSFString(make([]byte, 0, 64), name)
	b = append(b, ";r=0;t="...)
	b = strconv.AppendInt(b, secs, 10)
	h["Ratelimit"] = []string{string(b)}
	if rl.Quota > 0 {
		b = appendSFString(b[:0], name)
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, rl.Quota, 10)
		if w := rl.Window; w > 0 {
			b = append(b, ";w="...)
			b = strconv.AppendInt(b, retryAfterSeconds(w), 10)
		}
		h["Ratelimit-Policy"] = []string{string(b)}
	}
}

// appendSFString appends s as a structured-field string (RFC 8941): quoted,
// with '"' and '\' escaped, and characters outside printable ASCII, which
// the format cannot carry, replaced by '?'.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendProblem appends the RFC 9457 problem document for rej. A rejection
// without a guard name (hidden, or unknown) gets a detail that names
// nothing, and no "guard" member.
func appendProblem(b []byte, status int, rej Rejection, secs int64) []byte {
	b = append(b, `{"type":"about:blank","title":`...)
	b = appendJSONString(b, http.StatusText(status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"detail":"`...)
	switch {
	case rej.Guard == "" && status == http.StatusTooManyRequests:
		b = append(b, `Too many requests: try again later."`...)
	case rej.Guard == "":
		b = append(b, `The service cannot handle the request for now: try again later."`...)
	case rej.Reason == "circuit_open":
		b = append(b, `The circuit breaker \"`...)
		b = appendJSONText(b, rej.Guard)
		b = append(b, `\" is open: requests are refused for now."`...)
	case rej.Reason == "bulkhead_full":
		b = append(b, `Too many requests are in progress for \"`...)
		b = appendJSONText(b, rej.Guard)
		b = append(b, `\"."`...)
	case rej.Reason == reasonRateLimited:
		b = append(b, `The rate limit \"`...)
		b = appendJSONText(b, rej.Guard)
		b = append(b, `\" is exceeded."`...)
	default:
		b = append(b, `The request was refused by \"`...)
		b = appendJSONText(b, rej.Guard)
		b = append(b, `\" (`...)
		b = appendJSONText(b, rej.Reason)
		b = append(b, `)."`...)
	}
	if rej.Guard != "" {
		b = append(b, `,"guard":`...)
		b = appendJSONString(b, rej.Guard)
	}
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, rej.Reason)
	b = append(b, `,"retryAfter":`...)
	b = strconv.AppendInt(b, secs, 10)
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// '<', '>' and '&' are escaped as encoding/json does, so the body is safe to
// embed in HTML.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONText(b, s)
	return append(b, '"')
}

// appendJSONText appends s escaped for the inside of a JSON string.
func appendJSONText(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
