// Package httpmw puts breakerbox guards on HTTP traffic, one line each way:
// server middleware for inbound requests and a client Transport for
// outbound ones.
//
// # Server
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /users/{id}", getUser)
//	handler := httpmw.Middleware(reg)(mux) // serve it: http.ListenAndServe(addr, handler)
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
// with [WithRejectionWriter]; [WithDetails](false) keeps names out of it).
//
// The handler gets a status-capturing ResponseWriter that implements Unwrap,
// so http.ResponseController (flush, hijack, deadlines) keeps working, and
// http.Flusher, http.Hijacker and io.ReaderFrom, so streaming, server-sent
// events and sendfile pass through untouched.
//
// # Choosing a policy for inbound routes
//
// Each route's guard takes the registry's policy named after the route or
// whose Match pattern matches it ("GET /**" matches every GET route; "*"
// stays within one "/"-separated segment, so "GET /*" matches "GET /hello"
// but not "GET /quote/{sku}"), or the one [WithPolicy] names. For inbound
// routes, prefer a breaker that only measures, and shed load with a bulkhead
// or a rate limit (from the package's inbound policy example):
//
//	inbound := core.Policy{
//		Name:     "inbound",
//		Match:    []string{"GET /**", "POST /**"},
//		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
//		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 200, MaxQueue: 100, MaxWait: core.Duration(time.Second)},
//	}
//
// A route answers 5xx mostly because a dependency fails. A breaker on the
// route trips on those, rejects the route's requests (also those that did
// not need the dependency), and keeps rejecting for its open time after the
// dependency recovered. The breakers belong on the dependencies, the
// [Transport] and core.Do; the inbound guard counts (snapshots, metrics,
// the dashboard) and sheds.
//
// # Mistakes it reports
//
// A policy that matches no route, a route that falls to the registry's
// default policy and routes that all share the guard [UnmatchedKey] fail
// silently: the service runs, with the wrong protection. [Validate] checks
// the routes against the policies at start-up, and says which pattern would
// have matched. At run time the middleware logs each such case once, at
// Warn, to slog.Default() or [WithLogger]'s logger, when it meets it: a
// route's guard created with the default policy while the registry has
// other policies, and a request served or rejected under [UnmatchedKey].
//
// # Routers
//
// The middleware has the standard func(http.Handler) http.Handler shape. It
// keys by r.Pattern, which net/http's ServeMux sets; wrapped around a whole
// ServeMux it asks the mux. A router that runs the middleware before it
// routes, as chi's Use does, leaves r.Pattern empty: every route then shares
// the guard [UnmatchedKey], and one failing route gets /healthz rejected.
// The adapters name each route from its router, each in a module of its own
// so that this one needs only the standard library (each module's example
// runs its router):
//
//   - chi: r.Use(chimw.Middleware(reg)), module
//     github.com/breakerbox/breakerbox/httpmw/chimw;
//   - gin: engine.Use(ginmw.Middleware(reg)), module
//     github.com/breakerbox/breakerbox/httpmw/ginmw;
//   - echo: e.Use(echomw.Middleware(reg)), module
//     github.com/breakerbox/breakerbox/httpmw/echomw.
//
// They take this package's options (WithPolicy, WithTags, ...), and list a
// router's routes for [Validate]. A route gets the same guard name, and so
// the same policy, whichever router serves it: the method, a space and the
// path in ServeMux syntax ([RouteName]), such as "GET /quote/{sku}" for
// ServeMux's "GET /quote/{sku}", chi's Get("/quote/{sku}"), gin's and
// echo's GET("/quote/:sku").
//
// # Relaying a dependency's error
//
// A handler whose dependency call failed answers with [WriteError]: 503 (429
// for a rate limit) with the rejection's Retry-After when the dependency's
// guard refused the call, 504 for a timeout, 502 when the dependency could
// not be reached, 500 otherwise, each as a problem document. Behind
// WithDetails(false), the documents name no guard, route, host or error.
//
// # Tracing
//
// Mount otelhttp outermost and this middleware directly inside it:
//
//	otelhttp.NewHandler(httpmw.Middleware(reg)(mux), "server")
//
// otelhttp names a span and sets http.route from r.Pattern after the inner
// handler returns. The mux sets it on the requests it serves; for the
// requests the middleware rejects, which never reach the mux, the middleware
// sets r.Pattern itself, so that they are named by their route too, not just
// "GET". Middleware between the two that replaces the request
// (r.WithContext) hides r.Pattern from otelhttp. chi routes its own copy of
// the request, so in a chi router mount otelhttp's middleware with Use,
// before chimw's: r.Use(otelhttp.NewMiddleware("server"), chimw.Middleware(reg)).
//
// # Client
//
//	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(reg))}
//
// [Transport] keys each request by host, runs it through that host's guard
// (a rejected request never reaches the network and fails with an error
// matching core.ErrRejected that carries a retry-after) and counts
// transport errors and 5xx as failures ([ClientClassifier]). With
// [WithRetrier] it retries requests with replayable bodies that may be sent
// twice (an idempotent method, an Idempotency-Key header, [MarkIdempotent]),
// honouring Retry-After and proxy hints, draining every response it drops so
// that connections are reused.
//
// # Cost
//
// An admitted request costs a lock-free guard lookup, the guard's admission
// and report and, on the server, a pooled writer: no allocation and no
// clock read with the default classifiers.
package httpmw
