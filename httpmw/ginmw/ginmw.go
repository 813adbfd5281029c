// Package ginmw mounts httpmw's middleware on a gin engine, with one guard
// per gin route:
//
//	opts := []httpmw.Option{httpmw.WithPolicy("inbound")}
//	engine := gin.New()
//	engine.Use(gin.Recovery(), ginmw.Middleware(reg, opts...))
//	engine.GET("/quote/:sku", quote) // guard "GET /quote/{sku}"
//
// gin routes a request before it runs any middleware, but keeps the route
// on its own context (c.FullPath()) and lets handlers answer through it, so
// httpmw.Middleware cannot be mounted on gin as it is: [Middleware] copies
// the route into r.Pattern, runs the rest of gin's chain inside the guard,
// and hands gin's status to httpmw to classify. A rejected request is
// answered by httpmw (503 or 429, Retry-After, a problem document) and the
// rest of the chain does not run; gin's own middleware mounted before it
// (a logger, Recovery) sees the status.
//
// Guard names follow httpmw's naming rule (httpmw.RouteName): the method, a
// space and the full path in net/http ServeMux syntax, so gin's
// "/quote/:sku" is "GET /quote/{sku}", as it is for a ServeMux, chi or echo,
// and "/files/*path" is "GET /files/{path...}". [Routes] lists an engine's
// guard names for httpmw.Validate.
//
// The package is a module of its own, so that httpmw's users who do not use
// gin do not download it.
package ginmw

import (
	"net/http"
	"slices"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

// Middleware returns gin middleware that runs each request through
// httpmw.Middleware(reg, opts...): one guard per gin route, named by its
// method and full path (see the package doc). Mount it with engine.Use
// (before registering the routes), on a route group or on a single route.
// Requests that matched no route (c.FullPath() is "") share the guard
// httpmw.UnmatchedKey. It takes every option of httpmw (WithPolicy,
// WithTags, WithLimiter, WithDetails, WithLogger, ...).
//
// Handlers may pass c.Writer to httpmw.SetError and httpmw.WriteError: it
// leads to the middleware's writer. Mount gin.Recovery (or another
// recovery) before it: a panicking handler then counts as a failure of its
// route, and gin answers 500.
func Middleware(reg *core.Registry, opts ...httpmw.Option) gin.HandlerFunc {
	h := httpmw.Middleware(reg, opts...)(http.HandlerFunc(serveGin))
	return func(c *gin.Context) {
		// httpmw's default key is r.Pattern: make it gin's route.
		c.Request.Pattern = ""
		if p := c.FullPath(); p != "" {
			c.Request.Pattern = httpmw.RouteName(c.Request.Method, p)
		}
		cw := carriers.Get().(*carrier)
		*cw = carrier{ResponseWriter: c.Writer, c: c}
		h.ServeHTTP(cw, c.Request)
		admitted := cw.admitted
		*cw = carrier{}
		carriers.Put(cw)
		if !admitted {
			c.Abort()
		}
	}
}

// carrier is the writer Middleware hands to httpmw: gin's writer, and the
// gin context for serveGin. Pooled, so that a request allocates none.
type carrier struct {
	http.ResponseWriter
	c        *gin.Context
	admitted bool
	handlers writer // c.Writer while the handlers run
}

// writer is gin's writer as the handlers see it while httpmw serves them:
// everything goes to gin's writer, but Unwrap leads to httpmw's, so that
// httpmw.SetError(c.Writer, err) and httpmw.WriteError(c.Writer, ...)
// find the middleware (its classifier, WithDetails).
type writer struct {
	gin.ResponseWriter
	httpmw http.ResponseWriter
}

// Unwrap returns httpmw's writer, which leads back to gin's.
func (w *writer) Unwrap() http.ResponseWriter { return w.httpmw }

// Unwrap returns gin's writer, for http.ResponseController.
func (w *carrier) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var carriers = sync.Pool{New: func() any { return new(carrier) }}

// serveGin runs the rest of gin's chain for a request httpmw admitted, and
// passes gin's status on to httpmw, which classifies it (gin ignores a
// status it already has). While the handlers run, c.Writer leads to httpmw's
// writer through Unwrap (see writer).
func serveGin(w http.ResponseWriter, _ *http.Request) {
	cw := carrierOf(w)
	if cw == nil {
		http.Error(w, "ginmw: the middleware's handler was called outside it", http.StatusInternalServerError)
		return
	}
	cw.admitted = true
	gw := cw.c.Writer
	cw.handlers = writer{ResponseWriter: gw, httpmw: w}
	cw.c.Writer = &cw.handlers
	defer func() { cw.c.Writer = gw }()
	cw.c.Next()
	w.WriteHeader(gw.Status())
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

// Routes returns the guard names of every route of engine, sorted, as
// [Middleware] names them, for httpmw.Validate:
//
//	if err := httpmw.Validate(reg, ginmw.Routes(engine), opts...); err != nil {
//		log.Fatal(err)
//	}
func Routes(engine *gin.Engine) []string {
	var names []string
	for _, r := range engine.Routes() {
		names = append(names, httpmw.RouteName(r.Method, r.Path))
	}
	slices.Sort(names)
	return slices.Compact(names)
}
