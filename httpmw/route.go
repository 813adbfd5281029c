package httpmw

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// RouteName returns the guard name of a route, given the request method and
// the route's pattern in a router's own syntax. It is the one naming rule of
// the router adapters (httpmw/chimw, httpmw/ginmw, httpmw/echomw), so that a
// route keeps its guard, and its policy, whichever router serves it: the
// method, a space, and the path in net/http ServeMux syntax, as r.Pattern
// holds it for a ServeMux route such as "GET /quote/{sku}":
//
//	chi   GET /quote/{sku}         GET /quote/{sku}
//	chi   GET /quote/{sku:[a-z]+}  GET /quote/{sku}      (the regexp is dropped)
//	gin   GET /quote/:sku          GET /quote/{sku}
//	echo  GET /quote/:sku          GET /quote/{sku}
//	gin   GET /files/*path         GET /files/{path...}
//	chi   GET /files/*             GET /files/{...}      (echo too: the catch-all has no name)
//
// Only whole path segments are rewritten: ":name" and "*name" at the start
// of a segment, a segment that is just "*", and "{name:regexp}". Other
// characters are kept as they are. An empty method gives the path alone.
//
// pattern must be a route pattern, from a bounded set, never a request's
// URL path: RouteName remembers the names it built for the standard
// methods (up to a bound), so that naming a known route allocates nothing.
func RouteName(method, pattern string) string {
	c := routeCacheFor(method)
	if c != nil {
		if v, ok := c.names.Load(pattern); ok {
			return v.(string)
		}
	}
	name := pathName(pattern)
	if method != "" {
		name = method + " " + name
	}
	if c != nil && c.n.Load() < maxCachedRoutes {
		if _, loaded := c.names.LoadOrStore(pattern, name); !loaded {
			c.n.Add(1)
		}
	}
	return name
}

// maxCachedRoutes bounds the names RouteName remembers per method.
const maxCachedRoutes = 4096

type routeCache struct {
	names sync.Map // pattern -> name
	n     atomic.Int64
}

// routeMethods are the methods whose route names are cached.
var routeMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

var routeCaches [len(routeMethods)]routeCache

func routeCacheFor(method string) *routeCache {
	for i, m := range routeMethods {
		if m == method {
			return &routeCaches[i]
		}
	}
	return nil
}

// pathName rewrites a router's path pattern into ServeMux syntax (see
// RouteName).
func pathName(p string) string {
	if !strings.ContainsAny(p, ":*") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	for i := 0; i < len(p); {
		atSegment := i == 0 || p[i-1] == '/'
		switch c := p[i]; {
		case c == '{':
			// A chi parameter, perhaps with a regexp: {name} or {name:re}.
			end := closingBrace(p, i)
			if end < 0 {
				b.WriteString(p[i:])
				return b.String()
			}
			param := p[i+1 : end]
			if j := strings.IndexByte(param, ':'); j >= 0 {
				param = param[:j]
			}
			b.WriteByte('{')
			b.WriteString(param)
			b.WriteByte('}')
			i = end + 1
		case atSegment && (c == ':' || c == '*'):
			end := strings.IndexByte(p[i:], '/')
			if end < 0 {
				end = len(p)
			} else {
				end += i
			}
			name := p[i+1 : end]
			b.WriteByte('{')
			b.WriteString(name)
			if c == '*' {
				b.WriteString("...")
			}
			b.WriteByte('}')
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// closingBrace returns the index of the '}' closing the '{' at p[open],
// counting nested braces (a regexp such as [0-9]{3}), or -1.
func closingBrace(p string, open int) int {
	depth := 0
	for i := open; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
