package httpmw

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
)

// responseWriter is the status-capturing http.ResponseWriter the middleware
// hands to the next handler. It records the final status and an error set
// with SetError, and otherwise passes everything through: Unwrap lets
// http.ResponseController reach the server's writer (flush, hijack,
// deadlines, full duplex), and Flush, Hijack and ReadFrom are implemented
// directly for handlers that type-assert (SSE handlers asserting
// http.Flusher, io.Copy's sendfile path).
//
// Writers are pooled: like any ResponseWriter, one must not be used after
// the handler's ServeHTTP returned. A writer back in the pool writes to
// released, so that such a late use fails with errWriterReleased instead of
// crashing; once the pool hands the writer to another request, a late use
// would reach that request's response, which no pooling can prevent (see
// the gin and echo notes in the package doc).
type responseWriter struct {
	rw       http.ResponseWriter
	cfg      *config // the middleware's, for WriteError
	status   int     // final status; 0 until the header is written
	err      error   // set by SetError
	hijacked bool
}

var writerPool = sync.Pool{New: func() any { return new(responseWriter) }}

func getWriter(w http.ResponseWriter, cfg *config) *responseWriter {
	rw := writerPool.Get().(*responseWriter)
	// Start clean: a handler that kept its writer may have set a status or
	// an error on it after it went back to the pool (see
	// TestPooledWriterPoisonedByLateUse).
	*rw = responseWriter{rw: w, cfg: cfg}
	return rw
}

func putWriter(rw *responseWriter) {
	*rw = responseWriter{rw: released}
	writerPool.Put(rw)
}

// errWriterReleased is what a pooled writer returns when it is used after
// the middleware's ServeHTTP returned.
var errWriterReleased = errors.New("httpmw: ResponseWriter used after the handler returned")

// released is the writer of pooled writers: it drops everything.
var released http.ResponseWriter = releasedWriter{}

type releasedWriter struct{}

func (releasedWriter) Header() http.Header               { return http.Header{} }
func (releasedWriter) Write([]byte) (int, error)         { return 0, errWriterReleased }
func (releasedWriter) WriteHeader(int)                   {}
func (releasedWriter) FlushError() error                 { return errWriterReleased }
func (releasedWriter) ReadFrom(io.Reader) (int64, error) { return 0, errWriterReleased }

// Header returns the underlying writer's header map.
func (w *responseWriter) Header() http.Header { return w.rw.Header() }

// WriteHeader records the first final status (informational 1xx headers
// other than 101 may precede it) and passes the call on.
func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.rw.WriteHeader(code)
}

// Write passes b on; a write before any WriteHeader means 200.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.rw.Write(b)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.rw }

// FlushError flushes the underlying writer, reporting
// http.ErrNotSupported if it cannot flush. A flush writes the header, so
// it settles the status as 200 if none was set.
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.rw).Flush()
}

// Flush implements http.Flusher; see FlushError.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// Hijack implements http.Hijacker through the underlying writer; it fails
// with http.ErrNotSupported where hijacking is impossible (HTTP/2).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.rw).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

// ReadFrom implements io.ReaderFrom, so that io.Copy to the writer keeps the
// server's sendfile path.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.rw.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.rw}, src)
}

// writerOnly hides every method of a writer but Write, so that io.Copy does
// not call back into ReadFrom.
type writerOnly struct{ io.Writer }

// SetError attaches err to the request being served by the middleware, for
// the classifier to see: a handler that answered 200 after a failed
// dependency call can still count as a failure with a custom classifier, and
// with the default one ([ServerClassifier]) any non-nil err counts as a
// failure unless it is context.Canceled. w is the ResponseWriter the handler
// received (it may be wrapped again by other middleware, as long as the
// wrappers implement Unwrap). SetError does nothing when w is not served by
// the middleware. The last call wins; a nil err clears the error.
func SetError(w http.ResponseWriter, err error) {
	if rw := servingWriter(w); rw != nil {
		rw.err = err
	}
}

// servingWriter finds the middleware's writer in w or the writers it wraps
// (through Unwrap); nil when w is not served by the middleware.
func servingWriter(w http.ResponseWriter) *responseWriter {
	for w != nil {
		if rw, ok := w.(*responseWriter); ok {
			return rw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}
