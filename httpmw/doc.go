// Package httpmw puts breakerbox guards on HTTP traffic, one line each way:
// server middleware for inbound requests and a client Transport for
// outbound ones.
//
// # Server
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /users/{id}", getUser)
//	http.ListenAndServe(":8080", httpmw.Middleware(reg)(mux))
//
// [Middleware] keys each request by its route pattern ("GET /users/{id}")
// or a [WithKey] function, runs it through that key's guard in the registry,
// and classifies the response: a 5xx other than 501 is a failure, a 4xx is
// not ([ServerClassifier], replaceable with [WithClassifier], which also sees
// the latency). A rejected request is answered without reaching the handler:
// 503 for an open breaker, a full bulkhead or load shedding, 429 for a rate
// limit ([WithLimiter] adds a per-client one), with Retry-After, the
// RateLimit fields for rate limits, and an application/problem+json body
// (RFC 9457) naming the guard and the reason ([WriteRejection], replaceable
// with [WithRejectionWriter]).
//
// The handler gets a status-capturing ResponseWriter that implements Unwrap,
// so http.ResponseController (flush, hijack, deadlines) keeps working, and
// http.Flusher, http.Hijacker and io.ReaderFrom, so streaming, server-sent
// events and sendfile pass through untouched. The middleware has the
// standard func(http.Handler) http.Handler shape: it mounts as it is on
// net/http's ServeMux and on chi, and around any router that is an
// http.Handler. Routers that do not set r.Pattern before the middleware runs
// need [WithKey] to name the route. Gin and echo handlers answer through
// the framework's context, so there a short adapter (a gin.HandlerFunc, an
// echo.MiddlewareFunc) sets r.Pattern to the matched route, such as
// "GET /items/:id", and passes the status on; the examples of the test
// modules httpmw/internal/gintest and httpmw/internal/echotest show it.
// echo.WrapMiddleware alone is not enough: echo answers a handler's error
// after the middleware has returned.
//
// # Client
//
//	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(reg))}
//
// [Transport] keys each request by host, runs it through that host's guard
// (a rejected request never reaches the network and fails with an error
// matching core.ErrRejected that carries a retry-after) and counts
// transport errors and 5xx as failures ([ClientClassifier]). With
// [WithRetrier] it retries idempotent requests with replayable bodies,
// honouring Retry-After and proxy hints, draining every response it drops so
// that connections are reused.
//
// # Cost
//
// An admitted request costs a lock-free guard lookup, the guard's admission
// and report and, on the server, a pooled writer: no allocation and no
// clock read with the default classifiers.
package httpmw
