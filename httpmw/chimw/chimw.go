// Package chimw mounts httpmw's middleware on a chi router, with one guard
// per chi route:
//
//	opts := []httpmw.Option{httpmw.WithPolicy("inbound")}
//	r := chi.NewRouter()
//	r.Use(chimw.Middleware(reg, opts...))
//	r.Get("/quote/{sku}", quote) // guard "GET /quote/{sku}"
//	r.Get("/healthz", healthz)   // guard "GET /healthz"
//
// chi runs the middleware given to Use before it routes the request, so
// httpmw.Middleware alone, mounted with Use, finds no route (r.Pattern is
// not set yet): every request shares the guard httpmw.UnmatchedKey, and one
// failing route gets every other one rejected, /healthz included. This
// package's [Middleware] asks the router for the request's route instead
// ([Key]), so it works with Use on the root router, with Use in a
// subrouter (Route, Mount), in a Group and per route (With); every position
// names a route the same way, by its full pattern.
//
// Guard names follow httpmw's naming rule (httpmw.RouteName): the method, a
// space and the full path in net/http ServeMux syntax, so that a route
// keeps its guard and policy when it moves between chi and a ServeMux;
// chi's "/quote/{sku:[a-z]+}" is "GET /quote/{sku}". [Routes] lists a
// router's guard names for httpmw.Validate.
//
// The package is a module of its own, so that httpmw's users who do not use
// chi do not download it.
package chimw

import (
	"net/http"
	"slices"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

// Middleware returns httpmw.Middleware(reg, opts...) keyed by chi's route
// ([Key]), for any position in a chi router: Use, Group, With, a
// subrouter. It takes every option of httpmw (WithPolicy, WithTags,
// WithLimiter, WithDetails, WithLogger, ...); a WithKey among opts replaces
// [Key]. Requests that match no route (chi answers 404 or 405) share the
// guard httpmw.UnmatchedKey.
//
// For a request the guard rejects, which chi never routes, the middleware
// sets r.Pattern to the route's chi pattern, as chi does when it routes,
// so that an otelhttp middleware mounted before it in the same router
// names the span by the route.
//
// Finding the route costs one more route match per request (chi matches
// again when it routes); for routes of the root router it allocates
// nothing.
func Middleware(reg *core.Registry, opts ...httpmw.Option) func(http.Handler) http.Handler {
	all := make([]httpmw.Option, 0, len(opts)+1)
	all = append(all, httpmw.WithKey(keyAndPattern))
	return httpmw.Middleware(reg, append(all, opts...)...)
}

// Key returns the guard name of the chi route r goes to, such as
// "GET /quote/{sku}", or "" when r matches no route or is not served by a
// chi router. It asks the root router of r's chi routing context for the
// route of r's method and path, so that it gives the same answer before
// chi routed r (in Use) as after (in With or Group), and gives the full
// pattern of a route in a subrouter. Use it with httpmw.WithKey to
// combine chi's routes with other keys.
func Key(r *http.Request) string {
	pattern := find(r)
	if pattern == "" {
		return ""
	}
	return httpmw.RouteName(r.Method, pattern)
}

// keyAndPattern is Key that also sets r.Pattern, when empty, to the
// route's chi pattern.
func keyAndPattern(r *http.Request) string {
	pattern := find(r)
	if pattern == "" {
		return ""
	}
	if r.Pattern == "" {
		r.Pattern = pattern
	}
	return httpmw.RouteName(r.Method, pattern)
}

// routeContexts holds the scratch contexts find matches routes with.
var routeContexts = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// find returns the chi pattern of the route r goes to, or "".
func find(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return ""
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if path == "" {
		path = "/"
	}
	scratch := routeContexts.Get().(*chi.Context)
	scratch.Reset()
	pattern := rctx.Routes.Find(scratch, r.Method, path)
	routeContexts.Put(scratch)
	return pattern
}

// Routes returns the guard names of every route of router, sorted, as
// [Middleware] names them, for httpmw.Validate:
//
//	routes, err := chimw.Routes(r)
//	if err == nil {
//		err = httpmw.Validate(reg, routes, opts...)
//	}
//	if err != nil {
//		log.Fatal(err)
//	}
//
// A route registered for every method (Handle, HandleFunc) is listed once
// per method, as each method's requests get a guard of their own.
func Routes(router chi.Routes) ([]string, error) {
	var names []string
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		names = append(names, httpmw.RouteName(method, route))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
