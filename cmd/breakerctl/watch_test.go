package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
)

// Issue 18: status --watch polled every --interval instead of following the
// admin API's event stream, and showed a mode set by a guard's policy like
// an operator's override.

// syncBuffer is breakerctl's output, read by the test while it is written.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output holds want, failing at ctx's deadline.
func (s *syncBuffer) waitFor(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.wrote:
		case <-ctx.Done():
			t.Fatalf("no %q in the output before the deadline; output:\n%s", want, s.String())
		}
	}
}

// watchServer is an admin API over an httptest server, with the guards
// "payments" (automatic) and "legacy" (its policy sets mode disabled).
func watchServer(t *testing.T, opts ...admin.Option) string {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "off", Breaker: &core.BreakerPolicy{Mode: "disabled"}}))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments")
	reg.MustGuard("legacy", core.UsePolicy("off"))
	srv, err := admin.New(reg, append([]admin.Option{admin.WithToken("alice", inProcWrite, admin.Write), admin.WithToken("grafana", inProcRead, admin.Read)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() }) // first: it ends the streams ts.Close waits for
	return ts.URL
}

// startWatch runs breakerctl in process until ctx ends; done gets its exit
// code.
func startWatch(ctx context.Context, args ...string) (out, errOut *syncBuffer, done <-chan int) {
	out, errOut = newSyncBuffer(), newSyncBuffer()
	ch := make(chan int, 1)
	go func() { ch <- run(ctx, args, strings.NewReader(""), out, errOut, func(string) string { return "" }) }()
	return out, errOut, ch
}

// forceOpen forces payments open through the API, as another operator
// would.
func forceOpen(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/v1/operations/open", strings.NewReader(`{"name":"payments","reason":"maintenance"}`))
	req.Header.Set("Authorization", "Bearer "+inProcWrite)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("open: %s", res.Status)
	}
}

func TestWatchRedrawsOnTheEventStreamWithoutWaitingForAPoll(t *testing.T) {
	addr := watchServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	// An hour between polls: only the stream can show the change in time.
	out, errOut, done := startWatch(watchCtx, "status", "--watch", "--interval", "1h", "--addr", addr, "--token", inProcRead)
	out.waitFor(t, ctx, "payments")
	if !strings.Contains(out.String(), "Every 1h0m0s and on every change") {
		t.Errorf("the header does not say the watch follows changes:\n%s", out.String())
	}
	forceOpen(t, ctx, addr)
	out.waitFor(t, ctx, "forced-open (manual)")
	stop()
	if code := <-done; code != exitOK {
		t.Errorf("interrupted watch: exit %d, stderr %q", code, errOut.String())
	}
}

func TestWatchPollsWhenTheServerRefusesTheStream(t *testing.T) {
	addr := watchServer(t, admin.WithStreamLimits(admin.StreamLimits{Max: 1}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Another client holds the only stream.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+inProcRead)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if !bufio.NewScanner(res.Body).Scan() {
		t.Fatal("the first stream sent nothing")
	}

	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	out, errOut, done := startWatch(watchCtx, "status", "--watch", "--interval", "50ms", "--addr", addr, "--token", inProcRead)
	out.waitFor(t, ctx, "Every 50ms: breakerctl status")
	errOut.waitFor(t, ctx, "the server refused its event stream (503 Service Unavailable")
	forceOpen(t, ctx, addr)
	out.waitFor(t, ctx, "forced-open (manual)")
	stop()
	if code := <-done; code != exitOK {
		t.Errorf("interrupted watch: exit %d, stderr %q", code, errOut.String())
	}
}

func TestStatusShowsPolicyModesAsPolicy(t *testing.T) {
	addr := watchServer(t)
	code, out, errOut := runCtl(nil, "status", "--addr", addr, "--token", inProcRead)
	if code != exitOK || !strings.Contains(out, "disabled (policy)") || strings.Contains(out, "(manual)") {
		t.Errorf("status: exit %d, stderr %q, stdout:\n%s\nwant legacy disabled (policy), nothing manual", code, errOut, out)
	}
	code, out, _ = runCtl(nil, "status", "legacy", "--addr", addr, "--token", inProcRead)
	if code != exitOK || !strings.Contains(out, "mode:         disabled, set by the guard's policy") || strings.Contains(out, "override:") {
		t.Errorf("status legacy: exit %d, stdout:\n%s", code, out)
	}
}
