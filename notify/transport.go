package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
)

// RedirectPolicy says which redirects a Webhook or Slack channel follows.
// Its zero value, NoRedirects, follows none.
type RedirectPolicy int

const (
	// NoRedirects follows no redirect: a 3xx answer fails the delivery,
	// permanently, reported by its status code alone. The request, its
	// signed body and its headers go to the configured URL and nowhere
	// else. The default.
	NoRedirects RedirectPolicy = iota
	// SameOriginRedirects follows a 307 or 308 redirect (which keep the
	// method and the body) to a URL of the same origin: scheme, host and
	// port as the channel's URL; at most MaxRedirects in a row. Any other
	// redirect is handled as with NoRedirects: a redirect to another host,
	// or from http to https, and a 301, 302 or 303, which would turn the
	// POST into a GET without the event.
	SameOriginRedirects
)

// MaxRedirects bounds the redirects SameOriginRedirects follows in a row.
const MaxRedirects = 10

// String returns "none" or "same-origin".
func (p RedirectPolicy) String() string {
	switch p {
	case NoRedirects:
		return "none"
	case SameOriginRedirects:
		return "same-origin"
	}
	return "RedirectPolicy(" + strconv.Itoa(int(p)) + ")"
}

func (p RedirectPolicy) validate() error {
	if p != NoRedirects && p != SameOriginRedirects {
		return fmt.Errorf("redirects: %d is not a RedirectPolicy (NoRedirects or SameOriginRedirects)", int(p))
	}
	return nil
}

// HTTPError is the error of an HTTP delivery answered with a status other
// than 2xx.
type HTTPError struct {
	// StatusCode is the answer's status.
	StatusCode int
	// Body is the start of the answer's body (at most 512 bytes, URLs in
	// it reduced to scheme://host), kept only when the answer came from
	// the origin of the channel's URL and is not a redirect; empty
	// otherwise. A body from any other host is never read into an error.
	Body string
	// After is the answer's Retry-After, zero if none.
	After time.Duration
}

// Error returns "notify: HTTP <status>: <body>", or for a 3xx
// "notify: HTTP <status> (redirect not followed)".
func (e *HTTPError) Error() string {
	s := "notify: HTTP " + strconv.Itoa(e.StatusCode)
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		s += " (redirect not followed)"
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// RetryAfter returns the answer's Retry-After, which the channel's retries
// honour.
func (e *HTTPError) RetryAfter() time.Duration { return e.After }

// post sends body as JSON to rawURL and classifies the answer. It follows
// redirects only as the policy allows, reads an answer's body only from the
// URL's own origin, and returns errors that name the URL by scheme and host
// only.
func post(ctx context.Context, client *http.Client, redirects RedirectPolicy, rawURL string, h http.Header, body []byte) error {
	u, err := parseDeliveryURL(rawURL)
	if err != nil {
		return Permanent(fmt.Errorf("notify: %w", err))
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client // shares the Transport, so connections are still pooled
	c.CheckRedirect = checkRedirect(u, redirects, client.CheckRedirect)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("notify: url: %q is not a valid URL", redactURL(rawURL)))
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.Do(req)
	if err != nil {
		err = transportError(err, u)
		if errors.Is(err, ErrRefusedAddress) {
			return Permanent(err)
		}
		return err
	}
	defer resp.Body.Close()
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
	var head []byte
	if !redirect && resp.Request != nil && sameOrigin(u, resp.Request.URL) {
		head, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	he := &HTTPError{StatusCode: resp.StatusCode, Body: scrubSecrets(strings.TrimSpace(string(head)), u), After: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooEarly,
		resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return he
	}
	return Permanent(he)
}

// checkRedirect is the redirect check of a delivery to orig: it refuses
// (keeping the 3xx answer) every redirect the policy does not allow, then
// asks the client's own check, if any.
func checkRedirect(orig *url.URL, p RedirectPolicy, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if p != SameOriginRedirects || len(via) > MaxRedirects || !sameOrigin(orig, req.URL) {
			return http.ErrUseLastResponse
		}
		if req.Response == nil || (req.Response.StatusCode != http.StatusTemporaryRedirect && req.Response.StatusCode != http.StatusPermanentRedirect) {
			return http.ErrUseLastResponse
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (a missing port is the scheme's default).
func sameOrigin(a, b *url.URL) bool {
	if a == nil || b == nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// parseDeliveryURL parses an absolute http or https URL; its error shows
// the URL as scheme://host only.
func parseDeliveryURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url: %q must be an absolute http or https URL (shown as scheme://host only)", redactURL(s))
	}
	return u, nil
}

func validateURL(s string) error {
	_, err := parseDeliveryURL(s)
	return err
}

// redactURL reduces a URL to scheme://host, dropping the user info, path,
// query and fragment, which may hold secrets (a Slack webhook's path, a
// token in the query, a password). A string that is not a URL becomes
// "[invalid URL]", one without scheme and host "[relative URL]".
func redactURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(s, "://"):
		return reduceURL(s)
	case err != nil:
		return "[invalid URL]"
	case u.Scheme == "" && u.Host == "":
		return "[relative URL]"
	}
	return u.Scheme + "://" + u.Host
}

// reduceURL cuts s, which contains "://", to the scheme and the host part of
// its authority, without parsing it (it need not be a valid URL).
func reduceURL(s string) string {
	i := strings.Index(s, "://")
	scheme, rest := s[:i], s[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.LastIndexByte(rest, '@'); j >= 0 {
		rest = rest[j+1:]
	}
	return scheme + "://" + rest
}

// urlPattern finds URLs in free text: a scheme, "://", and everything up to
// a space, a quote or an angle bracket.
var urlPattern = regexp.MustCompile("(?i)\\b[a-z][a-z0-9+.-]*://[^\\s\"'`<>]*")

// scrubURLs reduces every URL in s to scheme://host.
func scrubURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPattern.ReplaceAllStringFunc(s, reduceURL)
}

// redactedError carries a message with its URLs reduced to scheme://host;
// it unwraps to the error it was made from, for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// transportError rewrites the error of an HTTP client's Do for u: the
// *url.Error from net/http names the full URL, so it is replaced by
// "notify: POST scheme://host: <cause>", which unwraps to the cause.
func transportError(err error, u *url.URL) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		cause = ue.Err
	}
	return &redactedError{msg: "notify: POST " + u.Scheme + "://" + u.Host + ": " + scrubSecrets(cause.Error(), u), err: cause}
}

// scrubSecrets reduces the URLs in s to scheme://host and replaces what
// may be secret in u (its path, query and user info) wherever it appears
// on its own, as when an answer's body echoes the request's path. Parts
// shorter than 4 bytes are left alone: too short to be secrets, and
// replacing them would garble the text.
func scrubSecrets(s string, u *url.URL) string {
	s = scrubURLs(s)
	parts := []string{u.EscapedPath(), u.Path, u.RawQuery, u.Fragment}
	if u.User != nil {
		pw, _ := u.User.Password()
		parts = append(parts, u.User.String(), u.User.Username(), pw)
	}
	for _, p := range parts {
		if len(p) >= 4 {
			s = strings.ReplaceAll(s, p, "[redacted]")
		}
	}
	return s
}

// redactErr returns err, or, when its message names URLs, an error whose
// message has them reduced to scheme://host and which unwraps to err. The
// notifier passes every dead letter's error through it, whatever the
// channel.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if s := scrubURLs(msg); s != msg {
		return &redactedError{msg: s, err: err}
	}
	return err
}

// parseRetryAfter reads a Retry-After value (seconds or an HTTP date,
// capped at retry.MaxRetryAfter); 0 when absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	d, _ := retry.ParseRetryAfter(v, now)
	return d
}
