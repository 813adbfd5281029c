package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Issue 18: the dashboard could not link a state change or a rejection to
// the trace of the call behind it, and showed a mode set by the guard's
// policy as "manual".

var errFailed = errors.New("dependency failed")

type traceKey struct{}

// ctxTrace is the test's stand-in for a tracing system: the trace id is a
// context value.
func ctxTrace(ctx context.Context) string {
	id, _ := ctx.Value(traceKey{}).(string)
	return id
}

func withTrace(id string) context.Context {
	return context.WithValue(context.Background(), traceKey{}, id)
}

// liveStream reads the event stream of a over a real HTTP connection.
type liveStream struct {
	t   *testing.T
	ctx context.Context
	ch  chan sseEvent
}

func openLiveStream(t *testing.T, ctx context.Context, a *testAPI) *liveStream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.ts.URL+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+readSecret)
	res, err := a.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/events: %s", res.Status)
	}
	ls := &liveStream{t: t, ctx: ctx, ch: make(chan sseEvent, 256)}
	go func() {
		defer res.Body.Close()
		defer close(ls.ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(strings.TrimPrefix(line, "data: "))
			case line == "" && ev.name != "":
				ls.ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ls
}

// subscribed returns the stream's hello once the server sends the stream
// its events: the first rates event comes after that (a state change made
// between the hello and the subscription would not be sent).
func (ls *liveStream) subscribed() HelloEvent {
	ls.t.Helper()
	var hello HelloEvent
	ls.next("hello", &hello, nil)
	var rates RatesEvent
	ls.next("rates", &rates, nil)
	return hello
}

// next returns the first event named name whose data ok accepts, failing
// the test at the context's deadline.
func (ls *liveStream) next(name string, v any, ok func() bool) {
	ls.t.Helper()
	for {
		select {
		case ev, open := <-ls.ch:
			if !open {
				ls.t.Fatalf("the stream ended before a %q event", name)
			}
			if ev.name != name {
				continue
			}
			if err := json.Unmarshal(ev.data, v); err != nil {
				ls.t.Fatalf("%s: %v", name, err)
			}
			if ok == nil || ok() {
				return
			}
		case <-ls.ctx.Done():
			ls.t.Fatalf("no matching %q event before the deadline", name)
		}
	}
}

func TestTraceLinksStateChangeAndRejectionCarryTraceIDs(t *testing.T) {
	const tmpl = "http://localhost:16686/trace/{traceId}"
	const tripTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const rejectTrace = "0af7651916cd43dd8448eb211c80319c"
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments", core.UsePolicy("p"))
	a := newTestAPIFor(t, reg, WithTraceLinks(tmpl, ctxTrace), WithPushInterval(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ls := openLiveStream(t, ctx, a)

	hello := ls.subscribed()
	if hello.TraceURL != tmpl {
		t.Errorf("hello traceUrl %q, want %q", hello.TraceURL, tmpl)
	}

	// A failing call trips the breaker: the transition carries its trace.
	p, err := g.Allow(withTrace(tripTrace))
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errFailed)
	var st StateEvent
	ls.next("state", &st, func() bool { return st.Guard == "payments" })
	if st.Transition.TraceID != tripTrace {
		t.Errorf("state event transition traceId %q, want %q", st.Transition.TraceID, tripTrace)
	}

	// A rejected call's trace comes in the next rates event.
	if _, err := g.Allow(withTrace(rejectTrace)); err == nil {
		t.Fatal("the open breaker admitted a call")
	}
	var rates RatesEvent
	var live GuardLive
	ls.next("rates", &rates, func() bool {
		for _, l := range rates.Guards {
			if l.Name == "payments" && l.RejectedTrace != "" {
				live = l
				return true
			}
		}
		return false
	})
	if live.RejectedTrace != rejectTrace {
		t.Errorf("rates rejectedTrace %q, want %q", live.RejectedTrace, rejectTrace)
	}

	// The history's transitions keep the trace, for the detail view.
	var h History
	a.do(http.MethodGet, "/v1/history?guard=payments", readSecret, nil).ok(t, &h)
	if len(h.Guards) != 1 || len(h.Guards[0].Transitions) == 0 || h.Guards[0].Transitions[0].TraceID != tripTrace {
		t.Errorf("history transitions %+v, want the newest with traceId %q", h.Guards, tripTrace)
	}
}

func TestTraceLinksOffSendNoTraces(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments", core.UsePolicy("p"))
	a := newTestAPIFor(t, reg, WithPushInterval(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ls := openLiveStream(t, ctx, a)
	hello := ls.subscribed()
	p, _ := g.Allow(withTrace("4bf92f3577b34da6a3ce929d0e0e4736"))
	p.Done(errFailed)
	var st StateEvent
	ls.next("state", &st, nil)
	if hello.TraceURL != "" || st.Transition.TraceID != "" {
		t.Errorf("without WithTraceLinks: traceUrl %q, traceId %q", hello.TraceURL, st.Transition.TraceID)
	}
}

func TestWithTraceLinksRefusesBadSettings(t *testing.T) {
	reg := testRegistry(t)
	for _, c := range []struct {
		tmpl string
		fn   func(context.Context) string
		want string
	}{
		{"http://jaeger/trace/{traceId}", nil, "traceID: must not be nil"},
		{"http://jaeger/trace/", ctxTrace, `"http://jaeger/trace/" does not contain {traceId}`},
		{"javascript:alert({traceId})", ctxTrace, "is not an http(s) URL"},
		{"/trace/{traceId}", ctxTrace, "is not an http(s) URL"},
	} {
		_, err := New(reg, WithTraceLinks(c.tmpl, c.fn))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "admin: traceLinks: ") {
			t.Errorf("WithTraceLinks(%q): %v, want an error containing %q", c.tmpl, err, c.want)
		}
	}
	if s, err := New(reg, WithTraceLinks("", ctxTrace)); err != nil {
		t.Errorf("an empty template (ids without links): %v", err)
	} else {
		s.Close()
	}
}

func TestTraceIDsUnfitForURLsAreDropped(t *testing.T) {
	for id, want := range map[string]string{
		"4bf92f3577b34da6a3ce929d0e0e4736": "4bf92f3577b34da6a3ce929d0e0e4736",
		"1234567890":                       "1234567890",
		"abc/../x":                         "",
		"a b":                              "",
		"\"><script>":                      "",
		strings.Repeat("a", 65):            "",
	} {
		if got := traceOf(ctxTrace, withTrace(id)); got != want {
			t.Errorf("traceOf(%q) = %q, want %q", id, got, want)
		}
	}
}

// The history counts each transition as transitionBytes plus its strings.
func TestTransitionBytesCoversTransition(t *testing.T) {
	if n := unsafe.Sizeof(Transition{}); n > transitionBytes {
		t.Errorf("a Transition is %d bytes; transitionBytes says %d", n, transitionBytes)
	}
}

func TestPolicyModeShowsPolicyNotManual(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "off", Breaker: &core.BreakerPolicy{Mode: "disabled"}}))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("legacy", core.UsePolicy("off"))
	reg.MustGuard("payments")
	a := newTestAPIFor(t, reg, WithPushInterval(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ls := openLiveStream(t, ctx, a)
	hello := ls.subscribed()
	by := map[string]GuardLive{}
	for _, l := range hello.Live {
		by[l.Name] = l
	}
	if l := by["legacy"]; !l.Manual || l.ManualBy != "policy" {
		t.Errorf("legacy (policy mode disabled): manual %v, manualBy %q; want true, \"policy\"", l.Manual, l.ManualBy)
	}
	if l := by["payments"]; l.Manual || l.ManualBy != "" {
		t.Errorf("payments (automatic): manual %v, manualBy %q", l.Manual, l.ManualBy)
	}

	a.op(OpOpen, aliceSecret, OperationRequest{Name: "payments", Reason: "maintenance"})
	var st StateEvent
	ls.next("state", &st, func() bool { return st.Guard == "payments" })
	if !st.Manual || st.ManualBy != "alice" {
		t.Errorf("forced open by alice: manual %v, manualBy %q", st.Manual, st.ManualBy)
	}
	var rates RatesEvent
	ls.next("rates", &rates, nil)
	for _, l := range rates.Guards {
		if want := map[string]string{"legacy": "policy", "payments": "alice"}[l.Name]; l.ManualBy != want {
			t.Errorf("rates: %s manualBy %q, want %q", l.Name, l.ManualBy, want)
		}
	}
}

// The URL templates docs/apm.md gives for each APM are accepted.
func TestDocumentedTraceURLTemplatesAreAccepted(t *testing.T) {
	data, err := os.ReadFile("../docs/apm.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	n := 0
	for _, field := range strings.Split(string(data), "`") {
		if !strings.HasPrefix(field, "http") || !strings.Contains(field, TraceIDPlaceholder) {
			continue
		}
		n++
		s, err := New(reg, WithTraceLinks(field, ctxTrace))
		if err != nil {
			t.Errorf("docs/apm.md's template %q: %v", field, err)
			continue
		}
		s.Close()
	}
	if n < 4 {
		t.Errorf("found %d templates in docs/apm.md, want at least 4 (Jaeger, Grafana, Datadog, Honeycomb)", n)
	}
}

// rejectingGuard returns a server over a registry whose guard "payments"
// is forced open; with links, the server has trace links, and an event
// stream counts as open (the hook reads traces only then).
func rejectingGuard(t testing.TB, links bool) (*Server, *core.Guard) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments")
	g.ForceOpen(breaker.Manual{Actor: "ops", Reason: "drill"})
	var opts []Option
	if links {
		opts = append(opts, WithTraceLinks("", ctxTrace))
	}
	s, err := New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.sampler.nsubs.Store(1)
	return s, g
}

// With trace links on, a rejection reads at most one trace id per guard
// per push interval; the others cost a lookup and allocate nothing.
func TestTraceLinksRejectionPathAllocatesNothing(t *testing.T) {
	_, g := rejectingGuard(t, true)
	ctx := withTrace("4bf92f3577b34da6a3ce929d0e0e4736")
	if _, err := g.Allow(ctx); err == nil { // takes the interval's slot
		t.Fatal("the forced-open breaker admitted a call")
	}
	if n := testing.AllocsPerRun(1000, func() { g.Allow(ctx) }); n != 0 {
		t.Errorf("a rejection with trace links allocates %v times, want 0", n)
	}
}

// A rejection without and with trace links (a stream open, the interval's
// trace id already read).
func BenchmarkRejectionWithTraceLinks(b *testing.B) {
	for _, links := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[links], func(b *testing.B) {
			_, g := rejectingGuard(b, links)
			ctx := withTrace("4bf92f3577b34da6a3ce929d0e0e4736")
			b.ReportAllocs()
			for b.Loop() {
				g.Allow(ctx)
			}
		})
	}
}
