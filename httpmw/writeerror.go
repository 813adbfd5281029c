package httpmw

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/breakerbox/breakerbox/core"
)

// WriteError answers r with the error a handler got from a dependency (a
// call through a [Transport], core.Do, a client of any kind), as an
// application/problem+json document (RFC 9457), so that a handler relays a
// dependency's failure in one line:
//
//	resp, err := client.Get(pricingURL)
//	if err != nil {
//		httpmw.WriteError(w, r, err)
//		return
//	}
//
// The status follows from err:
//
//   - a rejection (err matches core.ErrRejected: the dependency's guard
//     refused the call, its breaker is open, its bulkhead full): 503, or 429
//     for a rate limit, with Retry-After from the rejection, written as
//     the middleware writes its own rejections ([WriteRejection], or the
//     [WithRejectionWriter] writer of the middleware serving w), naming the
//     dependency's guard;
//   - a timeout (context.DeadlineExceeded, or a net.Error whose Timeout is
//     true): 504 Gateway Timeout;
//   - an error reaching or reading the dependency (a *url.Error, as
//     http.Client returns, or a net.Error): 502 Bad Gateway;
//   - any other error: 500 Internal Server Error.
//
// Except for rejections, the document's detail is err's message, which may
// name hosts, ports and internals: in a handler served by a middleware
// with WithDetails(false) (WriteError finds it through w), no document
// names the guard or carries the message, only the status's generic text.
// Headers: Content-Type, Cache-Control: no-store and Content-Length. A nil
// err writes nothing. Call it before anything else is written to w. The
// response's status is classified like any other by the middleware: a 5xx
// counts as a failure of the route under [ServerClassifier], one more reason
// for a metrics-only inbound breaker (see [WithPolicy]).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	var cfg config
	if sw := servingWriter(w); sw != nil && sw.cfg != nil {
		cfg = *sw.cfg
	}
	if errors.Is(err, core.ErrRejected) {
		guard := ""
		var rejected *core.RejectedError
		if errors.As(err, &rejected) {
			guard = rejected.Guard
		}
		cfg.rejectWith(w, r, newRejection(guard, err))
		return
	}
	status := errorStatus(err)
	detail := http.StatusText(status) + "."
	switch {
	case !cfg.hideDetails:
		detail = err.Error()
	case status == http.StatusBadGateway:
		detail = "A service this one depends on failed."
	case status == http.StatusGatewayTimeout:
		detail = "A service this one depends on did not answer in time."
	}
	b := append(make([]byte, 0, 128+len(detail)), `{"type":"about:blank","title":`...)
	b = appendJSONString(b, http.StatusText(status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, detail)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// errorStatus is the status WriteError answers a non-rejection err with.
// A *url.Error is a net.Error.
func errorStatus(err error) int {
	var ne net.Error
	isNet := errors.As(err, &ne)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (isNet && ne.Timeout()):
		return http.StatusGatewayTimeout
	case isNet:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
