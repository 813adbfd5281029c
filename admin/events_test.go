package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data []byte
}

// parseEvents splits a text/event-stream body into events.
func parseEvents(t testing.TB, body string) []sseEvent {
	t.Helper()
	var out []sseEvent
	for _, block := range strings.Split(body, "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(strings.TrimPrefix(line, "data: "))
			}
		}
		if ev.name != "" {
			out = append(out, ev)
		}
	}
	return out
}

// streamWriter is a ResponseWriter for event streams in a synctest bubble
// (where real connections would not be durably blocking).
type streamWriter struct {
	mu     sync.Mutex
	header http.Header
	code   int
	buf    strings.Builder
}

func (w *streamWriter) Header() http.Header { return w.header }
func (w *streamWriter) WriteHeader(code int) {
	w.mu.Lock()
	w.code = code
	w.mu.Unlock()
}
func (w *streamWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}
func (w *streamWriter) Flush() {}
func (w *streamWriter) body() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// events returns the events of the stream so far, named name ("" for all).
func (w *streamWriter) events(t testing.TB, name string) []sseEvent {
	var out []sseEvent
	for _, e := range parseEvents(t, w.body()) {
		if name == "" || e.name == name {
			out = append(out, e)
		}
	}
	return out
}

// openStream serves GET /v1/events into a streamWriter until cancel.
func openStream(s *Server) (w *streamWriter, cancel func()) {
	w = &streamWriter{header: http.Header{}}
	ctx, stop := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/events", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeHTTP(w, r)
	}()
	return w, func() { stop(); <-done }
}

func call(t testing.TB, g *core.Guard, err error) {
	t.Helper()
	p, aerr := g.Allow(context.Background())
	if aerr != nil {
		t.Fatal(aerr)
	}
	p.Done(err)
}

// The sampler, with fake time: rollups at every 10-second boundary, rates
// every push interval while a stream is open, state changes at once.
func TestSamplerSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, OpenDuration: core.Duration(time.Minute)}}))
		if err != nil {
			t.Fatal(err)
		}
		g := reg.MustGuard("a", core.UsePolicy("p"))
		s, err := New(reg, WithPushInterval(time.Second), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Start() // the baseline, at the bubble's start (a minute boundary)
		synctest.Wait()
		for range 4 {
			call(t, g, nil)
		}
		time.Sleep(ShortRollup)
		synctest.Wait()
		h := s.hist.read([]string{"a"}, false, false)
		if c := h.Guards[0].Calls; c == nil || c[shortLen-1] != 4 {
			t.Fatalf("after 10s: %v", c)
		}

		// A stream gets a hello, then rates every second.
		w, closeStream := openStream(s)
		synctest.Wait()
		if hello := w.events(t, "hello"); len(hello) != 1 {
			t.Fatalf("events %q", w.body())
		}
		if w.header.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(w.body(), "retry: ") {
			t.Fatalf("header %v, body %q", w.header, w.body())
		}
		var hello HelloEvent
		if err := json.Unmarshal(w.events(t, "hello")[0].data, &hello); err != nil {
			t.Fatal(err)
		}
		if hello.PushInterval != core.Duration(time.Second) || len(hello.Guards) != 1 || hello.Guards[0].Thresholds.ConsecutiveFailures != 3 || hello.Live[0].Since.IsZero() {
			t.Fatalf("hello %+v", hello)
		}
		for range 5 {
			call(t, g, nil)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		rates := w.events(t, "rates")
		if len(rates) != 1 {
			t.Fatalf("%d rates events after a second", len(rates))
		}
		var re RatesEvent
		if err := json.Unmarshal(rates[0].data, &re); err != nil {
			t.Fatal(err)
		}
		// 5 calls in the second since the 10s boundary's measure.
		if len(re.Guards) != 1 || re.Guards[0].Calls != 5 {
			t.Fatalf("rates %s", rates[0].data)
		}

		// Three failures trip the breaker: the state event comes at once,
		// without waiting for a push.
		for range 3 {
			call(t, g, errors.New("boom"))
		}
		synctest.Wait()
		states := w.events(t, "state")
		if len(states) != 1 {
			t.Fatalf("state events %d: %q", len(states), w.body())
		}
		var se StateEvent
		if err := json.Unmarshal(states[0].data, &se); err != nil {
			t.Fatal(err)
		}
		if se.Guard != "a" || se.State != breaker.Open || se.Transition.From != breaker.Closed || se.OpenUntil == nil || !se.OpenUntil.Equal(time.Now().Add(time.Minute)) {
			t.Fatalf("state %s", states[0].data)
		}

		// The rollup of the span ending at 20s is sent when it is complete.
		time.Sleep(9 * time.Second)
		synctest.Wait()
		rollups := w.events(t, "rollup")
		if len(rollups) != 1 {
			t.Fatalf("%d rollup events", len(rollups))
		}
		var ro RollupEvent
		if err := json.Unmarshal(rollups[0].data, &ro); err != nil {
			t.Fatal(err)
		}
		if !ro.Start.Equal(time.Now().Add(-ShortRollup)) || len(ro.Guards) != 1 || ro.Guards[0].Calls != 8 || ro.Guards[0].Failed != 3 {
			t.Fatalf("rollup %s at %v", rollups[0].data, time.Now())
		}
		if n := len(w.events(t, "rates")); n != 10 {
			t.Fatalf("%d rates events in 10 seconds", n)
		}

		// A guard appears.
		reg.MustGuard("b")
		time.Sleep(time.Second)
		synctest.Wait()
		var ge GuardsEvent
		if gev := w.events(t, "guards"); len(gev) != 1 || json.Unmarshal(gev[0].data, &ge) != nil || len(ge.Added) != 1 || ge.Added[0].Name != "b" {
			t.Fatalf("guards events %q", w.body())
		}

		// Closing the server ends the stream.
		s.Close()
		synctest.Wait()
		closeStream()
		if s.sampler.nsubs.Load() != 0 {
			t.Fatal("a stream is still counted")
		}
	})
}

// Without a stream the sampler wakes only at rollup boundaries, and does
// nothing between them.
func TestSamplerIdleSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, _ := core.NewRegistry()
		reg.MustGuard("a")
		s, _ := New(reg, WithPushInterval(100*time.Millisecond))
		s.Start()
		var wakes int
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			s.hist.mu.Lock()
			if s.hist.last.Equal(time.Now()) {
				wakes++
			}
			s.hist.mu.Unlock()
		}
		if wakes != 1 { // at 10s
			t.Fatalf("the sampler observed %d times in 10s of 100ms steps, want once", wakes)
		}
		s.Close()
		s.Close() // again: nothing
		s.Start() // after Close: nothing
	})
}

func TestEventStreamHTTP(t *testing.T) {
	a := newTestAPI(t, WithPushInterval(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// Tokens are needed to read it, as the rest of the API.
	a.do(http.MethodGet, "/v1/events", "", nil).problem(t, 401, codeUnauthorized)

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+readSecret)
	res, err := a.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
	events := make(chan sseEvent, 1000)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(line[len("data: "):])
			case line == "" && ev.name != "":
				events <- ev
				ev = sseEvent{}
			}
		}
	}()
	next := func(name string) sseEvent {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("the stream ended before a %s event", name)
				}
				if ev.name == name {
					return ev
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", name)
			}
		}
	}
	var hello HelloEvent
	if err := json.Unmarshal(next("hello").data, &hello); err != nil || len(hello.Guards) != 4 || len(hello.Live) != 4 {
		t.Fatalf("hello %+v %v", hello, err)
	}
	for _, g := range hello.Guards {
		if g.Name == "search" && (g.Bulkhead == nil || g.Bulkhead.MaxConcurrent != 4) {
			t.Errorf("search: %+v", g)
		}
	}
	next("rates")

	// An operation: its state change and its audit record.
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "payments.refund", Reason: "drill"}).ok(t, nil)
	var se StateEvent
	if err := json.Unmarshal(next("state").data, &se); err != nil || se.Guard != "payments.refund" || se.State != breaker.ForcedOpen || !se.Manual || se.Transition.Actor != "alice" {
		t.Fatalf("state %+v %v", se, err)
	}
	var rec AuditRecord
	if err := json.Unmarshal(next("audit").data, &rec); err != nil || rec.Reason != "drill" || rec.Actor != "alice" {
		t.Fatalf("audit %+v %v", rec, err)
	}

	// Close ends the stream, and refuses new ones.
	a.srv.Close()
	for range events {
	}
	a.do(http.MethodGet, "/v1/events", readSecret, nil).problem(t, 503, codeClosed)
	// The rest of the API keeps working.
	a.do(http.MethodGet, "/v1/guards", readSecret, nil).ok(t, nil)
}

// A stream that does not keep up is dropped, and never blocks the others.
func TestSlowStreamDropped(t *testing.T) {
	sm := newSampler()
	slow := &stream{ch: make(chan []byte, 1)}
	fast := &stream{ch: make(chan []byte, 10)}
	sm.subs[slow], sm.subs[fast] = struct{}{}, struct{}{}
	for range 3 {
		sm.broadcast("rates", RatesEvent{})
	}
	if _, ok := sm.subs[slow]; ok {
		t.Fatal("the slow stream is still there")
	}
	if len(fast.ch) != 3 {
		t.Fatalf("the fast stream got %d events", len(fast.ch))
	}
	<-slow.ch
	if _, ok := <-slow.ch; ok {
		t.Fatal("the slow stream's channel is open")
	}
	// Too many waiting events drop every stream, which then start afresh.
	sm.nsubs.Store(1)
	for range maxPending + 1 {
		sm.queue(pendingEvent{guard: "x"})
	}
	if !sm.overflow || len(sm.pending) != maxPending {
		t.Fatalf("overflow %v, %d pending", sm.overflow, len(sm.pending))
	}
}

func TestWithPushInterval(t *testing.T) {
	for _, d := range []time.Duration{0, 99 * time.Millisecond, ShortRollup + 1} {
		if _, err := New(testRegistry(t), WithPushInterval(d)); err == nil || !strings.Contains(err.Error(), "pushInterval") {
			t.Errorf("%v: %v", d, err)
		}
	}
}

// The server's hook costs the call path nothing: no allocation for a call
// through a guard of a registry with an admin server and an open stream.
func TestServerAddsNoAllocations(t *testing.T) {
	a := newTestAPI(t)
	w, closeStream := openStream(a.srv)
	defer closeStream()
	_ = w
	g := a.reg.MustGuard("search")
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		p, err := g.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	})
	if n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}
