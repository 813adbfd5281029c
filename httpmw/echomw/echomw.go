// Package echomw mounts httpmw's middleware on an echo server, with one
// guard per echo route:
//
//	opts := []httpmw.Option{httpmw.WithPolicy("inbound")}
//	e := echo.New()
//	e.Use(middleware.Recover(), echomw.Middleware(reg, opts...))
//	e.GET("/quote/:sku", quote) // guard "GET /quote/{sku}"
//
// echo routes a request before it runs the middleware given to Use, but
// keeps the route on its own context (c.Path()), and answers a handler's
// error after the middleware returned. So echo.WrapMiddleware around
// httpmw.Middleware is not enough: the guard would never see the error's
// status, and echo's answer would go to a writer the middleware no longer
// owns. [Middleware] copies the route into r.Pattern, runs the handler
// inside the guard, answers its error there (c.Error) so that the guard
// classifies the status echo answers with, and still returns the error,
// for echo's logger. A rejected request is answered by httpmw (503 or 429,
// Retry-After, a problem document) and the handler does not run.
//
// Guard names follow httpmw's naming rule (httpmw.RouteName): the method, a
// space and the full path in net/http ServeMux syntax, so echo's
// "/quote/:sku" is "GET /quote/{sku}", as it is for a ServeMux, chi or gin,
// and a catch-all "/files/*" is "GET /files/{...}". [Routes] lists a
// server's guard names for httpmw.Validate.
//
// The package is a module of its own, so that httpmw's users who do not use
// echo do not download it.
package echomw

import (
	"net/http"
	"slices"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

// Middleware returns echo middleware that runs each request through
// httpmw.Middleware(reg, opts...): one guard per echo route, named by its
// method and path (see the package doc). Mount it with e.Use, on a group
// or on a route. It takes every option of httpmw (WithPolicy, WithTags,
// WithLimiter, WithDetails, WithLogger, ...).
//
// Requests that matched no route share the guard httpmw.UnmatchedKey: no
// path, a path without the request's method (405), or a method outside the
// standard ones, which a client can send to any catch-all route at will.
// Group catch-alls ("/api/*", which e.Group adds for its middleware) keep
// their path, so their 404s share one guard per method.
//
// Mount echo's Recover before it: a panicking handler then counts as a
// failure of its route, and echo answers 500.
func Middleware(reg *core.Registry, opts ...httpmw.Option) echo.MiddlewareFunc {
	h := httpmw.Middleware(reg, opts...)(http.HandlerFunc(serveEcho))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			r.Pattern = routeKey(c) // httpmw's default key
			res := c.Response()
			defer c.SetResponse(res)
			cw := carriers.Get().(*carrier)
			*cw = carrier{ResponseWriter: res, c: c, next: next}
			h.ServeHTTP(cw, r)
			err := cw.err
			*cw = carrier{}
			carriers.Put(cw)
			return err
		}
	}
}

// carrier is the writer Middleware hands to httpmw: echo's response, and
// what serveEcho needs. Pooled.
type carrier struct {
	http.ResponseWriter
	c    echo.Context
	next echo.HandlerFunc
	err  error // the handler's
}

// Unwrap returns echo's response, for http.ResponseController.
func (w *carrier) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var carriers = sync.Pool{New: func() any { return new(carrier) }}

// serveEcho runs the handler of a request httpmw admitted, writing through
// httpmw's writer w, and answers its error there, so that httpmw sees the
// status echo answers it with.
func serveEcho(w http.ResponseWriter, _ *http.Request) {
	cw := carrierOf(w)
	if cw == nil {
		http.Error(w, "echomw: the middleware's handler was called outside it", http.StatusInternalServerError)
		return
	}
	cw.c.SetResponse(echo.NewResponse(w, cw.c.Echo()))
	if cw.err = cw.next(cw.c); cw.err != nil {
		cw.c.Error(cw.err)
	}
}

// carrierOf finds the carrier under httpmw's writer.
func carrierOf(w http.ResponseWriter) *carrier {
	for w != nil {
		if cw, ok := w.(*carrier); ok {
			return cw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// routeKey names the route echo matched, such as "GET /items/{id}", or
// returns "" (httpmw.UnmatchedKey) for a request that matched none.
func routeKey(c echo.Context) string {
	p := c.Path()
	if p == "" || c.Get(echo.ContextKeyHeaderAllow) != nil {
		return ""
	}
	if m := c.Request().Method; standard(m) {
		return httpmw.RouteName(m, p)
	}
	return ""
}

// standard reports whether m is one of the methods routes are named for.
func standard(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// Routes returns the guard names of every route of e, sorted, as
// [Middleware] names them, for httpmw.Validate:
//
//	if err := httpmw.Validate(reg, echomw.Routes(e), opts...); err != nil {
//		e.Logger.Fatal(err)
//	}
//
// echo's own routes (RouteNotFound, and those of methods Middleware does
// not name) are left out.
func Routes(e *echo.Echo) []string {
	var names []string
	for _, r := range e.Routes() {
		if standard(r.Method) {
			names = append(names, httpmw.RouteName(r.Method, r.Path))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
