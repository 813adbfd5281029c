package grpcmw_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// completions is a registry whose OnDone hook records every outcome
// reported to its guards, which have one-slot bulkheads.
type completions struct {
	reg  *core.Registry
	mu   sync.Mutex
	seen []core.Completion
}

func newCompletions(t *testing.T) *completions {
	t.Helper()
	c := &completions{}
	reg, err := core.NewRegistry(
		core.WithPolicies(core.Policy{Name: "default", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}}),
		core.WithHooks(core.Hooks{OnDone: func(_ context.Context, e core.Completion) {
			c.mu.Lock()
			c.seen = append(c.seen, e)
			c.mu.Unlock()
		}}))
	if err != nil {
		t.Fatal(err)
	}
	c.reg = reg
	return c
}

// checkOne fails unless guard name saw exactly one outcome, of result r
// with error err, and its bulkhead slot is free.
func (c *completions) checkOne(t *testing.T, name string, r breaker.Result, err error) {
	t.Helper()
	c.mu.Lock()
	seen := c.seen
	c.seen = nil
	c.mu.Unlock()
	if len(seen) != 1 || seen[0].Guard != name || seen[0].Result != r || !errors.Is(seen[0].Err, err) {
		t.Errorf("%s: completions %+v, want one %v with %v", name, seen, r, err)
	}
	s := mustGuard(t, c.reg, name).Snapshot()
	if n := s.Breaker.Succeeded + s.Breaker.Failed + s.Breaker.Ignored; n != 1 {
		t.Errorf("%s: breaker counted %d outcomes, want 1: %+v", name, n, s.Breaker)
	}
	if s.Bulkhead.InUse != 0 {
		t.Errorf("%s: bulkhead in use %d after the call", name, s.Bulkhead.InUse)
	}
}

// mustPanic runs f and fails unless it panics with "boom".
func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the handler's panic", v)
		}
	}()
	f()
}

// TestPanicReportedOnceByEveryInterceptor: a panic below any of the four
// interceptors is one failure, with core.ErrPanicked, and goes on.
func TestPanicReportedOnceByEveryInterceptor(t *testing.T) {
	c := newCompletions(t)
	ctx := context.Background()

	uc := grpcmw.UnaryClientInterceptor(c.reg)
	mustPanic(t, func() {
		_ = uc(ctx, mEmpty, nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") })
	})
	c.checkOne(t, mEmpty, breaker.Failure, core.ErrPanicked)

	sc := grpcmw.StreamClientInterceptor(c.reg)
	mustPanic(t, func() {
		_, _ = sc(ctx, duplexCS, nil, mFullDuplex,
			func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				panic("boom")
			})
	})
	c.checkOne(t, mFullDuplex, breaker.Failure, core.ErrPanicked)

	c = newCompletions(t)
	us := grpcmw.UnaryServerInterceptor(c.reg)
	mustPanic(t, func() {
		_, _ = us(ctx, nil, unaryInfo, func(context.Context, any) (any, error) { panic("boom") })
	})
	c.checkOne(t, mEmpty, breaker.Failure, core.ErrPanicked)

	ss := grpcmw.StreamServerInterceptor(c.reg)
	mustPanic(t, func() {
		_ = ss(nil, &fakeServerStream{ctx: ctx}, duplex, func(any, grpc.ServerStream) error { panic("boom") })
	})
	c.checkOne(t, mFullDuplex, breaker.Failure, core.ErrPanicked)
}

// TestStreamClientReportsOnceAfterItStarted: a client stream that started
// is reported once, when it ends, not also when the interceptor returns it.
func TestStreamClientReportsOnceAfterItStarted(t *testing.T) {
	c := newCompletions(t)
	sc := grpcmw.StreamClientInterceptor(c.reg)
	cs, err := sc(context.Background(), duplexCS, nil, mFullDuplex, eofStreamer)
	if err != nil {
		t.Fatal(err)
	}
	if s := mustGuard(t, c.reg, mFullDuplex).Snapshot(); s.Bulkhead.InUse != 1 || s.Breaker.Failed != 0 {
		t.Fatalf("running stream: bulkhead in use %d, failed %d; want 1, 0", s.Bulkhead.InUse, s.Breaker.Failed)
	}
	_ = cs.RecvMsg(nil) // io.EOF: the stream ended well
	c.checkOne(t, mFullDuplex, breaker.Success, nil)
}
