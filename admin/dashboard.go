package admin

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// The dashboard is plain HTML, CSS and JavaScript, embedded: no build
// step, no CDN, nothing fetched from elsewhere (the Content-Security-Policy
// forbids it).
//
//go:embed dashboard
var dashboardFS embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

var assets = loadAssets()

func loadAssets() map[string]asset {
	out := map[string]asset{}
	sub, err := fs.Sub(dashboardFS, "dashboard")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // not left to the system's MIME tables
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		out[p] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

// dashboardCSP allows the page its own script, styles and API, and nothing
// else: no inline script, no third party, no framing.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboardPage serves the dashboard. The page and its assets are public:
// they hold no data, which comes from the API with the token the page asks
// for.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, "index.html")
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, r.PathValue("file"))
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := assets[name]
	if !ok {
		writeProblem(w, r, problem(http.StatusNotFound, codeNotFound, "no such endpoint: "+r.URL.EscapedPath()))
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// Revalidate every time: the files change with the server's version.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authorize(w, r, Read)
	if !ok {
		return
	}
	id := Identity{Actor: p.name, Access: p.access.String(), Fleet: s.cfg.fleet != nil, Regions: s.cfg.regions != nil}
	for _, t := range s.auth.tokens {
		if t.Access == Write {
			id.Writable = true
		}
	}
	writeJSON(w, r, http.StatusOK, id)
}

// history serves GET /v1/history[?guard=name][&range=1h|24h].
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	q := r.URL.Query()
	var long bool
	switch rg := q.Get("range"); rg {
	case "", "1h":
	case "24h", "1d":
		long = true
	default:
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "range: "+quote(rg)+" is not 1h or 24h"))
		return
	}
	if !q.Has("guard") {
		gs, _ := s.reg.Guards(core.All())
		names := make([]string, len(gs))
		for i, g := range gs {
			names[i] = g.Name()
		}
		writeCompressedJSON(w, r, s.hist.read(names, long, false))
		return
	}
	name := q.Get("guard")
	if _, ok := s.reg.Lookup(name); !ok {
		writeProblem(w, r, unknownGuard(name))
		return
	}
	h := s.hist.read([]string{name}, long, true)
	ops, _ := s.mem.recent()
	for i := len(ops) - 1; i >= 0 && len(h.Guards[0].Operations) < guardTransitions; i-- {
		if slices.ContainsFunc(ops[i].Before, func(g GuardState) bool { return g.Guard == name }) {
			h.Guards[0].Operations = append(h.Guards[0].Operations, ops[i])
		}
	}
	writeCompressedJSON(w, r, h)
}

// writeCompressedJSON is writeJSON, gzipped when the client accepts it and
// the answer is large enough to gain.
func writeCompressedJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, r, problem(http.StatusInternalServerError, codeInternal, "encoding the answer: "+err.Error()))
		return
	}
	b = append(b, '\n')
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	if len(b) > 1024 && acceptsGzip(r) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(b)
		_ = zw.Close()
		b = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// acceptsGzip reports whether r's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		p := strings.ReplaceAll(params, " ", "")
		return !(strings.HasPrefix(p, "q=0") && strings.Trim(strings.TrimPrefix(p, "q=0"), ".0") == "")
	}
	return false
}

// events serves the event stream GET /v1/events (text/event-stream).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authorize(w, r, Read)
	if !ok {
		return
	}
	lim := s.cfg.streams.withDefaults()
	if prob := s.sampler.slots.take(p.name, lim); prob != nil {
		w.Header().Set("Retry-After", "10")
		writeProblem(w, r, prob)
		return
	}
	defer s.sampler.slots.give(p.name)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	st := &stream{ch: make(chan []byte, streamBuffer)}
	if !s.subscribe(st) {
		writeProblem(w, r, problem(http.StatusServiceUnavailable, codeClosed, "the admin server is closed"))
		return
	}
	defer s.unsubscribe(st)
	rc := http.NewResponseController(w)
	// Every write has a deadline, the first ones included, so that a
	// client that does not read cannot hold its slot for long once the
	// connection's buffers are full. (A ResponseWriter without deadlines
	// gets none.)
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(lim.WriteTimeout)) }
	deadline()
	w.WriteHeader(http.StatusOK)
	// retry tells EventSource clients how soon to reconnect.
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			s.cfg.logger.Error("breakerbox admin: the event stream needs a ResponseWriter that can flush", "err", err)
		}
		return
	}
	for {
		select {
		case f, ok := <-st.ch:
			if !ok {
				return // dropped, or the server closed
			}
			deadline()
			if _, err := w.Write(f); err != nil {
				return
			}
			// Write whatever else is ready before flushing.
			for more := true; more; {
				select {
				case f, ok := <-st.ch:
					if !ok {
						return
					}
					if _, err := w.Write(f); err != nil {
						return
					}
				default:
					more = false
				}
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}
