package httpmw_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/ratelimit"
)

func get(t testing.TB, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestMiddlewareOpensRejectsAndRecovers drives one route's breaker through
// closed, open, half-open and closed again on a real server, counting the
// requests that reach the handler.
func TestMiddlewareOpensRejectsAndRecovers(t *testing.T) {
	reg := newRegistry(t, tripPolicy("api", 50*time.Millisecond))
	f := &flaky{}
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", httpmw.Middleware(reg, httpmw.WithPolicy("api"))(f))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()

	f.failing.Store(true)
	for i := range 3 {
		if resp := get(t, c, srv.URL+"/items/"+strconv.Itoa(i)); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("request %d: status %d, want 500", i, resp.StatusCode)
		}
	}
	g := mustGuard(t, reg, "GET /items/{id}")
	if s := g.Breaker().State(); s != breaker.Open {
		t.Fatalf("after 3 failures the breaker is %v, want open", s)
	}

	// Open: rejected without touching the handler.
	resp := get(t, c, srv.URL+"/items/9")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("open: status %d, want 503", resp.StatusCode)
	}
	if n := f.hits.Load(); n != 3 {
		t.Fatalf("the handler saw %d requests, want 3: a rejection reached it", n)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1 (50ms rounded up to a whole second)", ra)
	}
	p := decodeProblem(t, resp)
	if p.Status != 503 || p.Guard != "GET /items/{id}" || p.Reason != "circuit_open" || p.Type != "about:blank" || p.Title != "Service Unavailable" || p.RetryAfter != 1 {
		t.Errorf("problem document %+v", p)
	}

	// Half-open after the open duration; one good probe closes it.
	f.failing.Store(false)
	waitState(t, g, breaker.HalfOpen)
	if resp := get(t, c, srv.URL+"/items/1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("probe: status %d, want 200", resp.StatusCode)
	}
	if s := g.Breaker().State(); s != breaker.Closed {
		t.Fatalf("after a good probe the breaker is %v, want closed", s)
	}
	if n := f.hits.Load(); n != 4 {
		t.Fatalf("the handler saw %d requests, want 4", n)
	}
}

// TestMiddlewareStatusClassification: 5xx but 501 are failures, 4xx are not.
func TestMiddlewareStatusClassification(t *testing.T) {
	reg := newRegistry(t)
	var status atomic.Int64
	h := httpmw.Middleware(reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /s", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, code := range []int{200, 204, 301, 400, 404, 429, 499, 501, 500, 502, 503, 504} {
		status.Store(int64(code))
		get(t, srv.Client(), srv.URL+"/s")
	}
	s := mustGuard(t, reg, "GET /s").Snapshot().Breaker
	if s.Succeeded != 8 || s.Failed != 4 || s.Ignored != 0 {
		t.Errorf("succeeded %d, failed %d, ignored %d; want 8, 4, 0", s.Succeeded, s.Failed, s.Ignored)
	}
}

func TestServerClassifier(t *testing.T) {
	for _, tc := range []struct {
		o    breaker.Outcome
		want breaker.Result
	}{
		{breaker.Outcome{Code: 200, HasCode: true}, breaker.Success},
		{breaker.Outcome{Code: 404, HasCode: true}, breaker.Success},
		{breaker.Outcome{Code: 501, HasCode: true}, breaker.Success},
		{breaker.Outcome{Code: 500, HasCode: true}, breaker.Failure},
		{breaker.Outcome{Code: 599, HasCode: true}, breaker.Failure},
		{breaker.Outcome{}, breaker.Success},
		{breaker.Outcome{Err: errors.New("x"), Code: 200, HasCode: true}, breaker.Failure},
		{breaker.Outcome{Err: context.Canceled, Code: 500, HasCode: true}, breaker.Ignore},
		{breaker.Outcome{Err: core.ErrPanicked}, breaker.Failure},
	} {
		if got := httpmw.ServerClassifier(tc.o); got != tc.want {
			t.Errorf("ServerClassifier(%+v) = %v, want %v", tc.o, got, tc.want)
		}
	}
}

// TestMiddlewareClassifierSeesStatusErrorLatency: a custom classifier gets
// the status, the handler's error and the latency, and can count slow
// responses as failures.
func TestMiddlewareClassifierSeesStatusErrorLatency(t *testing.T) {
	reg := newRegistry(t)
	var got []breaker.Outcome
	classify := func(o breaker.Outcome) breaker.Result {
		got = append(got, o)
		if o.Latency > 0 { // every response is "slow" here
			return breaker.Failure
		}
		return breaker.Success
	}
	errDep := errors.New("dependency down")
	h := httpmw.Middleware(reg, httpmw.WithClassifier(classify))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("err") {
			httpmw.SetError(w, errDep)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	for _, target := range []string{"/a", "/a?err"} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Pattern = "GET /a"
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(got) != 2 {
		t.Fatalf("classifier called %d times, want 2", len(got))
	}
	for i, o := range got {
		if !o.HasCode || o.Code != http.StatusAccepted || o.Latency <= 0 {
			t.Errorf("outcome %d: %+v, want code 202 and a latency", i, o)
		}
	}
	if got[0].Err != nil || got[1].Err != errDep {
		t.Errorf("errors %v, %v; want nil, %v", got[0].Err, got[1].Err, errDep)
	}
	if s := mustGuard(t, reg, "GET /a").Snapshot().Breaker; s.Failed != 2 {
		t.Errorf("failed %d, want 2 (slow calls)", s.Failed)
	}
}

func TestMiddlewarePanickingClassifierCountsFailure(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg, httpmw.WithClassifier(func(breaker.Outcome) breaker.Result { panic("bad classifier") }))(trivial)
	r, rec := benchRequest()
	h.ServeHTTP(rec, r)
	if s := mustGuard(t, reg, "GET /x").Snapshot().Breaker; s.Failed != 1 {
		t.Errorf("failed %d, want 1", s.Failed)
	}
}

// TestSetErrorDefaultClassifier: with the default classifier an error set
// by the handler is a failure, through other wrappers that implement Unwrap.
func TestSetErrorDefaultClassifier(t *testing.T) {
	reg := newRegistry(t)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpmw.SetError(w, errors.New("upstream failed"))
	})
	wrap := func(next http.Handler) http.Handler { // another middleware's writer
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(unwrapper{w}, r)
		})
	}
	h := httpmw.Middleware(reg)(wrap(inner))
	r, rec := benchRequest()
	h.ServeHTTP(rec, r)
	if s := mustGuard(t, reg, "GET /x").Snapshot().Breaker; s.Failed != 1 {
		t.Errorf("failed %d, want 1", s.Failed)
	}
	httpmw.SetError(httptest.NewRecorder(), errors.New("ignored")) // not served by the middleware: no effect
}

type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestMiddlewarePanicIsFailure: a panicking handler is a failure and the
// panic goes on.
func TestMiddlewarePanicIsFailure(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }))
	r, rec := benchRequest()
	func() {
		defer func() {
			if v := recover(); v != "handler bug" {
				t.Errorf("recovered %v, want the handler's panic", v)
			}
		}()
		h.ServeHTTP(rec, r)
	}()
	if s := mustGuard(t, reg, "GET /x").Snapshot().Breaker; s.Failed != 1 {
		t.Errorf("failed %d, want 1", s.Failed)
	}
}

// TestMiddlewareClientGoneIsIgnored: a 5xx written after the client left
// says nothing about the server.
func TestMiddlewareClientGoneIsIgnored(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, rec := benchRequest()
	h.ServeHTTP(rec, r.WithContext(ctx))
	if s := mustGuard(t, reg, "GET /x").Snapshot().Breaker; s.Ignored != 1 || s.Failed != 0 {
		t.Errorf("ignored %d, failed %d; want 1, 0", s.Ignored, s.Failed)
	}
}

// TestMiddlewareInformationalThenFinal: a 103 Early Hints header before the
// final 500 does not hide the failure.
func TestMiddlewareInformationalThenFinal(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /x", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if resp := get(t, srv.Client(), srv.URL+"/x"); resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if s := mustGuard(t, reg, "GET /x").Snapshot().Breaker; s.Failed != 1 {
		t.Errorf("failed %d, want 1", s.Failed)
	}
}

// TestMiddlewareWrapsWholeMux: around a ServeMux the guards are still the
// route patterns, and requests no route matches share one guard.
func TestMiddlewareWrapsWholeMux(t *testing.T) {
	reg := newRegistry(t)
	mux := http.NewServeMux()
	mux.Handle("GET /a/{id}", trivial)
	mux.Handle("POST /b", trivial)
	srv := httptest.NewServer(httpmw.Middleware(reg)(mux))
	defer srv.Close()

	get(t, srv.Client(), srv.URL+"/a/1")
	get(t, srv.Client(), srv.URL+"/a/2")
	resp, err := srv.Client().Post(srv.URL+"/b", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, p := range []string{"/nope", "/other/path", "/b"} { // 404, 404, 405
		get(t, srv.Client(), srv.URL+p)
	}
	var names []string
	for _, s := range reg.Snapshot() {
		names = append(names, s.Name+"="+strconv.FormatUint(s.Breaker.Admitted, 10))
	}
	if got, want := strings.Join(names, " "), "GET /a/{id}=2 POST /b=1 unmatched=3"; got != want {
		t.Errorf("guards %q, want %q", got, want)
	}
}

// TestMiddlewareWithKey keys guards by a tenant tier header.
func TestMiddlewareWithKey(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg, httpmw.WithKey(func(r *http.Request) string {
		if r.Header.Get("X-Tier") == "gold" {
			return "tier.gold"
		}
		return ""
	}), httpmw.WithTags("inbound"))(trivial)
	for _, tier := range []string{"gold", "free"} {
		r, rec := benchRequest()
		r.Header.Set("X-Tier", tier)
		h.ServeHTTP(rec, r)
	}
	for _, name := range []string{"tier.gold", httpmw.UnmatchedKey} {
		if g := mustGuard(t, reg, name); !g.HasTag("inbound") {
			t.Errorf("guard %s has tags %v, want inbound", name, g.Tags())
		}
	}
}

func TestMiddlewareUnknownPolicyFailsLoudly(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg, httpmw.WithPolicy("no-such-policy"))(trivial)
	r, _ := benchRequest()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "no-such-policy") {
		t.Errorf("status %d, body %q; want 500 naming the policy", rec.Code, rec.Body)
	}
}

// TestMiddlewareBulkheadFull: a full bulkhead answers 503 bulkhead_full.
func TestMiddlewareBulkheadFull(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "one", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}})
	entered, release := make(chan struct{}), make(chan struct{})
	h := httpmw.Middleware(reg, httpmw.WithPolicy("one"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /slow", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	done := make(chan int)
	go func() {
		resp, err := srv.Client().Get(srv.URL + "/slow")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered
	resp := get(t, srv.Client(), srv.URL+"/slow")
	close(release)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second request: status %d, want 503", resp.StatusCode)
	}
	if p := decodeProblem(t, resp); p.Reason != "bulkhead_full" || p.Guard != "GET /slow" {
		t.Errorf("problem %+v", p)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("first request: status %d, want 200", code)
	}
}

// TestMiddlewareKeyedLimiter: per-client rate limits answer 429 with
// Retry-After and the RateLimit fields, per client address.
func TestMiddlewareKeyedLimiter(t *testing.T) {
	reg := newRegistry(t)
	lim, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: 2, Per: time.Hour, Burst: 2}})
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{}
	h := httpmw.Middleware(reg, httpmw.WithLimiter(httpmw.ClientIP, lim))(f)
	serve := func(addr string) *httptest.ResponseRecorder {
		r, _ := benchRequest()
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for i := range 2 {
		if rec := serve("192.0.2.1:1000" + strconv.Itoa(i)); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
	}
	rec := serve("192.0.2.1:20000") // same client, another port
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("third request: status %d, want 429", rec.Code)
	}
	ra, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
	if ra < 1700 || ra > 1800 { // half an hour until the next token
		t.Errorf("Retry-After %q, want about 1800", rec.Header().Get("Retry-After"))
	}
	if got, want := rec.Header().Get("RateLimit"), `"ratelimit";r=0;t=`+strconv.Itoa(ra); got != want {
		t.Errorf("RateLimit %q, want %q", got, want)
	}
	if got, want := rec.Header().Get("RateLimit-Policy"), `"ratelimit";q=2;w=3600`; got != want {
		t.Errorf("RateLimit-Policy %q, want %q", got, want)
	}
	resp := rec.Result()
	if p := decodeProblem(t, resp); p.Status != 429 || p.Reason != "rate_limited" || p.Title != "Too Many Requests" {
		t.Errorf("problem %+v", p)
	}
	if rec := serve("[2001:db8::1]:443"); rec.Code != http.StatusOK {
		t.Errorf("another client: status %d, want 200", rec.Code)
	}
	if n := f.hits.Load(); n != 3 {
		t.Errorf("handler saw %d requests, want 3", n)
	}
}

// TestMiddlewareRejectionWriter: the rejection writer is replaceable and
// sees the rejection.
func TestMiddlewareRejectionWriter(t *testing.T) {
	reg := newRegistry(t)
	var got httpmw.Rejection
	h := httpmw.Middleware(reg, httpmw.WithRejectionWriter(func(w http.ResponseWriter, r *http.Request, rej httpmw.Rejection) {
		got = rej
		w.WriteHeader(http.StatusTeapot)
	}))(trivial)
	r, rec := benchRequest()
	h.ServeHTTP(rec, r) // creates the guard
	if _, err := reg.OpenFor(core.Name("GET /x"), time.Hour, breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusTeapot {
		t.Errorf("status %d, want the writer's 418", rec.Code)
	}
	if got.Guard != "GET /x" || got.Reason != "circuit_open" || got.Status != 503 ||
		!errors.Is(got.Err, breaker.ErrOpen) || got.RetryAfter < 59*time.Minute {
		t.Errorf("rejection %+v", got)
	}
}

// TestMiddlewareForcedOpenRetryAfter: an unknown retry-after (forced open)
// still answers Retry-After: 1; HEAD gets no body.
func TestMiddlewareForcedOpenHead(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg)(trivial)
	reg.MustGuard("HEAD /x").ForceOpen(breaker.Manual{Actor: "test"})
	r := httptest.NewRequest(http.MethodHead, "/x", nil)
	r.Pattern = "HEAD /x"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("status %d, Retry-After %q, body %q, header %v", rec.Code, rec.Header().Get("Retry-After"), rec.Body, rec.Header())
	}
}

// TestMiddlewareStreamingAndSSE: events are flushed to the client one by
// one while the handler still runs, through http.Flusher and through
// http.ResponseController.
func TestMiddlewareStreamingAndSSE(t *testing.T) {
	reg := newRegistry(t)
	next := make(chan struct{})
	h := httpmw.Middleware(reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		for i := range 3 {
			_, _ = io.WriteString(w, "data: "+strconv.Itoa(i)+"\n\n")
			if i%2 == 0 {
				w.(http.Flusher).Flush()
			} else if err := rc.Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
			<-next // the client read this event before the next is written
		}
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /events", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp := get(t, srv.Client(), srv.URL+"/events")
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: "+strconv.Itoa(i)+"\n" {
			t.Fatalf("event %d: %q, %v", i, line, err)
		}
		_, _ = br.ReadString('\n')
		next <- struct{}{}
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("trailing data %q", rest)
	}
	if s := mustGuard(t, reg, "GET /events").Snapshot().Breaker; s.Succeeded != 1 {
		t.Errorf("succeeded %d, want 1", s.Succeeded)
	}
}

// TestMiddlewareHijack: a handler can take over the connection, through the
// Hijacker interface and through http.ResponseController.
func TestMiddlewareHijack(t *testing.T) {
	for _, viaController := range []bool{false, true} {
		reg := newRegistry(t)
		h := httpmw.Middleware(reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var conn io.WriteCloser
			var err error
			if viaController {
				conn, _, err = http.NewResponseController(w).Hijack()
			} else {
				conn, _, err = w.(http.Hijacker).Hijack()
			}
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			conn.Close()
		}))
		served := make(chan struct{})
		mux := http.NewServeMux()
		mux.HandleFunc("GET /h", func(w http.ResponseWriter, r *http.Request) {
			defer close(served) // the middleware has reported
			h.ServeHTTP(w, r)
		})
		srv := httptest.NewServer(mux)
		resp := get(t, srv.Client(), srv.URL+"/h")
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "hijacked" {
			t.Errorf("body %q", body)
		}
		<-served
		srv.Close()
		if s := mustGuard(t, reg, "GET /h").Snapshot().Breaker; s.Succeeded != 1 {
			t.Errorf("succeeded %d, want 1", s.Succeeded)
		}
	}
}

// TestMiddlewareReadFrom: io.Copy into the writer goes through ReadFrom and
// the status is recorded.
func TestMiddlewareReadFrom(t *testing.T) {
	reg := newRegistry(t)
	h := httpmw.Middleware(reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("the writer does not implement io.ReaderFrom")
		}
		// A reader without WriteTo, so that io.Copy calls w.ReadFrom.
		_, _ = io.Copy(w, struct{ io.Reader }{strings.NewReader(strings.Repeat("x", 100000))})
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /big", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp := get(t, srv.Client(), srv.URL+"/big")
	if body, _ := io.ReadAll(resp.Body); len(body) != 100000 {
		t.Errorf("body of %d bytes", len(body))
	}
	// And on a writer without ReadFrom.
	r, _ := benchRequest()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Body.Len() != 100000 || rec.Code != 200 {
		t.Errorf("recorder: status %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

// TestMiddlewareAdmittedPathAllocatesNothing guards the hot path.
func TestMiddlewareAdmittedPathAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need the full run")
	}
	reg := newRegistry(t)
	h := httpmw.Middleware(reg)(trivial)
	r, rec := benchRequest()
	h.ServeHTTP(rec, r)
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(rec, r) }); n != 0 {
		t.Errorf("admitted request: %v allocations, want 0", n)
	}
	bare := testing.AllocsPerRun(1000, func() { trivial.ServeHTTP(rec, r) })
	if bare != 0 {
		t.Errorf("bare handler: %v allocations", bare)
	}
}

// TestMiddlewareContextEndedInQueue: a request whose context ends while the
// bulkhead would queue it is answered 503 without a problem document (it is
// not a rejection) and never reaches the handler.
func TestMiddlewareContextEndedInQueue(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "q", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 1, MaxWait: core.Duration(time.Hour)}})
	entered, release := make(chan struct{}), make(chan struct{})
	f := &flaky{}
	h := httpmw.Middleware(reg, httpmw.WithPolicy("q"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ServeHTTP(w, r)
		entered <- struct{}{}
		<-release
	}))
	go func() {
		r, rec := benchRequest()
		h.ServeHTTP(rec, r)
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := benchRequest()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.WithContext(ctx))
	close(release)
	if rec.Code != http.StatusServiceUnavailable || rec.Body.Len() != 0 || f.hits.Load() != 1 {
		t.Errorf("status %d, body %q, handler hits %d", rec.Code, rec.Body, f.hits.Load())
	}
}

// TestMiddlewareConcurrent hammers one route from many goroutines while its
// handler fails at random: every request is either served or rejected, and
// the guard's counters agree with the handler's.
func TestMiddlewareConcurrent(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "c", Breaker: &core.BreakerPolicy{WindowSize: 20, MinCalls: 10, OpenDuration: core.Duration(time.Millisecond)}})
	var hits, n atomic.Int64
	h := httpmw.Middleware(reg, httpmw.WithPolicy("c"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /c", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const workers, each = 8, 50
	var served, rejected atomic.Int64
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				resp, err := srv.Client().Get(srv.URL + "/c")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					rejected.Add(1)
				} else {
					served.Add(1)
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	s := mustGuard(t, reg, "GET /c").Snapshot()
	if served.Load()+rejected.Load() != workers*each || served.Load() != hits.Load() {
		t.Errorf("served %d + rejected %d, handler hits %d", served.Load(), rejected.Load(), hits.Load())
	}
	if s.Breaker.Admitted != uint64(hits.Load()) || s.Rejected.Total() != uint64(rejected.Load()) {
		t.Errorf("guard admitted %d, rejected %d; want %d, %d", s.Breaker.Admitted, s.Rejected.Total(), hits.Load(), rejected.Load())
	}
}

// TestMiddlewareNilOptions: nil values restore the defaults; a nil registry
// is the middleware's own.
func TestMiddlewareNilOptions(t *testing.T) {
	h := httpmw.Middleware(nil, nil, httpmw.WithKey(nil), httpmw.WithClassifier(nil),
		httpmw.WithRejectionWriter(nil), httpmw.WithLimiter(nil, nil), httpmw.WithLimiter(httpmw.ClientIP, nil))(trivial)
	r, _ := benchRequest()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("status %d, body %q", rec.Code, rec.Body)
	}
}

func TestClientIP(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:1234":    "192.0.2.1",
		"[2001:db8::1]:443": "2001:db8::1",
		"@":                 "@", // a unix socket's address: kept whole
		"":                  "",
	} {
		r := &http.Request{RemoteAddr: addr}
		if got := httpmw.ClientIP(r); got != want {
			t.Errorf("ClientIP(%q) = %q, want %q", addr, got, want)
		}
	}
}
