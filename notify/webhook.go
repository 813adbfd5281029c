package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
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
//
// Redirects are not followed unless Redirects allows same-origin ones, and
// errors name the URL by scheme and host only (see the package
// documentation, "Security model").
type Webhook struct {
	// URL is the endpoint; http or https. Errors and logs show its scheme
	// and host only, so a token in its path or query stays out of them.
	URL string
	// Secret is the HMAC key shared with the receiver; required: New
	// refuses a Webhook without one, and Send fails permanently.
	Secret []byte
	// Header holds extra request headers (an API key, say). They are not
	// signed.
	Header http.Header
	// Client sends the requests; nil means http.DefaultClient. The
	// channel's Timeout bounds each attempt either way. The client's
	// CheckRedirect is consulted only for redirects that Redirects allows.
	// PublicClient returns one that connects to public addresses only.
	Client *http.Client
	// Redirects says which redirects are followed: NoRedirects (the zero
	// value) or SameOriginRedirects.
	Redirects RedirectPolicy
}

func (w *Webhook) validate() error {
	if err := validateURL(w.URL); err != nil {
		return err
	}
	if len(w.Secret) == 0 {
		return errors.New("secret: must not be empty: it is the HMAC-SHA256 key that lets the receiver tell your events from forged ones")
	}
	return w.Redirects.validate()
}

// Send posts e. A Webhook with an invalid field (no secret, say) fails
// permanently without sending anything.
func (w *Webhook) Send(ctx context.Context, e *Event) error {
	if err := w.validate(); err != nil {
		return Permanent(fmt.Errorf("notify: webhook: %w", err))
	}
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
	return post(ctx, w.Client, w.Redirects, w.URL, h, body)
}

// Sign returns the SignatureHeader value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". It does
// not check the secret, but Verify refuses an empty one, so a signature
// made with an empty secret never verifies.
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
	// ErrEmptySecret: Verify was given an empty secret. Anyone can compute
	// an HMAC under an empty key, so such a signature proves nothing.
	ErrEmptySecret = errors.New("notify: secret is empty")
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
// error matching ErrEmptySecret (secret is empty: nothing is checked),
// ErrNoSignature, ErrBadSignature or ErrStaleSignature.
//
// The signature covers the timestamp and the body, not the headers. Within
// the tolerance a captured request verifies again when replayed, so a
// receiver must de-duplicate by the event id read from the verified body
// (Event.ID, as VerifyRequest returns it), not by the EventIDHeader, which
// is not signed; keeping the ids seen within twice the tolerance suffices,
// since older replays are refused as stale. Redeliveries of one event carry
// the same id and a fresh signature.
//
// To rotate a secret, have the receiver try the new one and then the old
// one until every sender has the new one.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration) error {
	return VerifyAt(time.Now(), secret, header, body, tolerance)
}

// VerifyAt is Verify at the explicit time now.
func VerifyAt(now time.Time, secret []byte, header string, body []byte, tolerance time.Duration) error {
	if len(secret) == 0 {
		return ErrEmptySecret
	}
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
// one call a receiving handler needs (it still has to de-duplicate by the
// returned Event.ID, see Verify):
//
//	e, err := notify.VerifyRequest(r, secret, 0)
//	if err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration) (Event, error) {
	if len(secret) == 0 {
		return Event{}, ErrEmptySecret
	}
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
