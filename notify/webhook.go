package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/httpmw"
)

// Webhook headers.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">" (see Sign and Verify).
	SignatureHeader = "Breakerbox-Signature"
	// EventIDHeader carries Event.ID, the same on every attempt.
	EventIDHeader = "Breakerbox-Event-Id"
	// EventTypeHeader carries Event.Type.
	EventTypeHeader = "Breakerbox-Event-Type"
	// DefaultTolerance is the replay window Verify uses for a tolerance of
	// zero: a signature older (or newer) than this is refused.
	DefaultTolerance = 5 * time.Minute
)

var userAgent = "breakerbox-notify/" + strconv.Itoa(SchemaVersion)

// Webhook posts each event as JSON (the Event schema, see the package
// documentation) to URL, signed with Secret in the SignatureHeader, with
// EventIDHeader and EventTypeHeader. A 2xx answer is success; 408, 425,
// 429 and 5xx are retried (honouring Retry-After); any other status is
// permanent. Each attempt is signed afresh with the time of sending, so a
// receiver's replay window applies to late retries too.
type Webhook struct {
	// URL is the endpoint; http or https.
	URL string
	// Secret is the HMAC key shared with the receiver; required.
	Secret []byte
	// Header holds extra request headers (an API key, say).
	Header http.Header
	// Client sends the requests; nil means http.DefaultClient. The
	// channel's Timeout bounds each attempt either way.
	Client *http.Client
}

func (w *Webhook) validate() error {
	if err := validateURL(w.URL); err != nil {
		return err
	}
	if len(w.Secret) == 0 {
		return errors.New("secret: must not be empty")
	}
	return nil
}

// Send posts e.
func (w *Webhook) Send(ctx context.Context, e *Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return Permanent(fmt.Errorf("notify: webhook: encoding event: %w", err))
	}
	h := http.Header{}
	for k, v := range w.Header {
		h[k] = v
	}
	h.Set(SignatureHeader, Sign(w.Secret, time.Now(), body))
	h.Set(EventIDHeader, e.ID)
	h.Set(EventTypeHeader, string(e.Type))
	return post(ctx, w.Client, w.URL, h, body)
}

// Sign returns the SignatureHeader value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	// ErrNoSignature: the header is missing or malformed.
	ErrNoSignature = errors.New("notify: no valid signature header")
	// ErrBadSignature: no v1 signature in the header matches the body.
	ErrBadSignature = errors.New("notify: signature does not match")
	// ErrStaleSignature: the signature's timestamp is outside the
	// tolerance (a replay, or a clock far off).
	ErrStaleSignature = errors.New("notify: signature timestamp outside tolerance")
)

// Verify checks a webhook's signature on the receiving side: header is the
// SignatureHeader value, body the raw request body. It returns nil when
// one of the header's v1 signatures is the HMAC-SHA256 of "<t>.<body>"
// under secret (compared in constant time) and t is within tolerance of
// now (either way; zero means DefaultTolerance). Otherwise it returns an
// error matching ErrNoSignature, ErrBadSignature or ErrStaleSignature.
//
// To rotate a secret, have the receiver try the new one and then the old
// one until every sender has the new one.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration) error {
	return VerifyAt(time.Now(), secret, header, body, tolerance)
}

// VerifyAt is Verify at the explicit time now.
func VerifyAt(now time.Time, secret []byte, header string, body []byte, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := []byte(mac(secret, ts, body))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	age := now.Sub(time.Unix(sec, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now", ErrStaleSignature, time.Unix(sec, 0).UTC().Format(time.RFC3339), -age)
	}
	return nil
}

// MaxBodySize is the largest body VerifyRequest reads.
const MaxBodySize = 1 << 20

// VerifyRequest reads a webhook request's body (at most MaxBodySize),
// verifies its signature as Verify does and decodes the event. It is the
// one call a receiving handler needs:
//
//	e, err := notify.VerifyRequest(r, secret, 0)
//	if err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration) (Event, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		return Event{}, fmt.Errorf("notify: reading body: %w", err)
	}
	if len(body) > MaxBodySize {
		return Event{}, fmt.Errorf("notify: body larger than %d bytes", MaxBodySize)
	}
	if err := Verify(secret, r.Header.Get(SignatureHeader), body, tolerance); err != nil {
		return Event{}, err
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("notify: decoding event: %w", err)
	}
	if e.Version != SchemaVersion {
		return e, fmt.Errorf("notify: event version %d, want %d", e.Version, SchemaVersion)
	}
	return e, nil
}

// HTTPError is the error of an HTTP delivery answered with a status other
// than 2xx.
type HTTPError struct {
	// StatusCode is the answer's status.
	StatusCode int
	// Body is the start of the answer's body (at most 512 bytes).
	Body string
	// After is the answer's Retry-After, zero if none.
	After time.Duration
}

// Error returns "notify: HTTP <status>: <body>".
func (e *HTTPError) Error() string {
	s := "notify: HTTP " + strconv.Itoa(e.StatusCode)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// RetryAfter returns the answer's Retry-After, which the channel's retries
// honour.
func (e *HTTPError) RetryAfter() time.Duration { return e.After }

// post sends body as JSON and classifies the answer.
func post(ctx context.Context, client *http.Client, u string, h http.Header, body []byte) error {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Permanent(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	he := &HTTPError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(head)), After: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooEarly,
		resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return he
	}
	return Permanent(he)
}

// parseRetryAfter reads a Retry-After value (seconds or an HTTP date,
// capped at httpmw.MaxRetryAfter); 0 when absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	d, _ := httpmw.ParseRetryAfter(v, now)
	return d
}

func validateURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q must be an absolute http or https URL", s)
	}
	return nil
}
