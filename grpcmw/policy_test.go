package grpcmw_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// WithPolicy gives every guard the interceptors create the named policy,
// over the policy its name matches and over a core.UsePolicy among the
// guard options; a guard that exists keeps its policy.
func TestWithPolicyChoosesThePolicyOfNewGuards(t *testing.T) {
	reg := newRegistry(t,
		core.Policy{Name: "matched", Match: []string{"/grpc.testing.TestService/*"}},
		core.Policy{Name: "inbound", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8}},
		core.Policy{Name: "other"})
	reg.MustGuard(mUnary) // exists before the interceptors: keeps "matched"
	opts := []grpcmw.Option{grpcmw.WithGuardOptions(core.UsePolicy("other")), grpcmw.WithPolicy("inbound")}
	addr := serve(t, &testServer{}, nil,
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if p := mustGuard(t, reg, mEmpty).Policy(); p.Name != "inbound" || p.Bulkhead == nil {
		t.Errorf("new guard has policy %q, want inbound", p.Name)
	}
	if p := mustGuard(t, reg, mUnary).Policy().Name; p != "matched" {
		t.Errorf("existing guard has policy %q, want matched", p)
	}

	// An empty name restores the matching policy.
	reg2 := newRegistry(t, core.Policy{Name: "matched", Match: []string{"/grpc.testing.TestService/*"}})
	us := grpcmw.UnaryServerInterceptor(reg2, grpcmw.WithPolicy("inbound"), grpcmw.WithPolicy(""))
	if _, err := us(ctx, nil, unaryInfo, okHandler); err != nil {
		t.Fatal(err)
	}
	if p := mustGuard(t, reg2, mEmpty).Policy().Name; p != "matched" {
		t.Errorf("WithPolicy(\"\"): guard has policy %q, want matched", p)
	}
}

// A policy the registry does not have fails the call with Internal, on the
// client and the server, rather than leave it unguarded.
func TestWithPolicyUnknownIsInternal(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	uc := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithPolicy("missing"))
	if err := uc(ctx, mEmpty, nil, nil, nil, okInvoker); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "missing") {
		t.Errorf("client: %v, want Internal naming the policy", err)
	}
	us := grpcmw.UnaryServerInterceptor(reg, grpcmw.WithPolicy("missing"))
	if _, err := us(ctx, nil, unaryInfo, okHandler); status.Code(err) != codes.Internal {
		t.Errorf("server: %v, want Internal", err)
	}
}

// syncBuffer is a log destination written from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// A guard that falls to the registry's default policy is logged once, at
// Warn, the first time a call creates it; guards with a policy of their own
// are not.
func TestDefaultPolicyGuardLoggedOnce(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "empty", Match: []string{"/grpc.testing.TestService/EmptyCall"}})
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	opts := []grpcmw.Option{grpcmw.WithLogger(log)}
	addr := serve(t, &testServer{}, nil,
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()
	for range 3 {
		if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	lines := out.lines()
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"level=WARN", "default policy", "guard=" + mUnary, "method=" + mUnary, "policy=default"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q lacks %q", lines[0], want)
		}
	}
}

// No report when the policy was chosen, or with WithLogger(nil).
func TestDefaultPolicyNotLoggedWhenChosen(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []grpcmw.Option
	}{
		{"WithPolicy", []grpcmw.Option{grpcmw.WithPolicy("default")}},
		{"core.UsePolicy", []grpcmw.Option{grpcmw.WithGuardOptions(core.UsePolicy("inbound"))}},
		{"WithLogger(nil)", []grpcmw.Option{grpcmw.WithLogger(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t, core.Policy{Name: "inbound"}, core.Policy{Name: "default"})
			var out syncBuffer
			// A later WithLogger(nil) wins over this one.
			opts := append([]grpcmw.Option{grpcmw.WithLogger(slog.New(slog.NewTextHandler(&out, nil)))}, tc.opts...)
			us := grpcmw.UnaryServerInterceptor(reg, opts...)
			if _, err := us(ctx, nil, unaryInfo, okHandler); err != nil {
				t.Fatal(err)
			}
			if lines := out.lines(); len(lines) != 0 {
				t.Fatalf("logged %q", lines)
			}
		})
	}
}

// Without WithLogger the report goes to slog.Default(), as it is when the
// guard is created.
func TestDefaultPolicyLoggedToSlogDefault(t *testing.T) {
	var out syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&out, nil)))
	defer slog.SetDefault(prev)

	uc := grpcmw.UnaryClientInterceptor(newRegistry(t))
	if err := uc(context.Background(), mEmpty, nil, nil, nil, okInvoker); err != nil {
		t.Fatal(err)
	}
	if lines := out.lines(); len(lines) != 1 || !strings.Contains(lines[0], "guard="+mEmpty) {
		t.Fatalf("slog.Default got %q, want one line about %s", lines, mEmpty)
	}
}

// Calls racing to create one guard report it once; the reports stop after
// a bound, so a KeyFunc with many names cannot grow the memory of them.
func TestDefaultPolicyLogOncePerGuardAndBounded(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	ctx := context.Background()
	us := grpcmw.UnaryServerInterceptor(newRegistry(t), grpcmw.WithLogger(log))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := us(ctx, nil, unaryInfo, okHandler); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(out.lines()); n != 1 {
		t.Fatalf("8 racing first calls logged %d lines, want 1", n)
	}

	n := 0
	many := grpcmw.WithKey(func(context.Context, string) string { n++; return "g" + strconv.Itoa(n) })
	uc := grpcmw.UnaryClientInterceptor(newRegistry(t), many, grpcmw.WithLogger(log))
	for range 1100 {
		if err := uc(ctx, mEmpty, nil, nil, nil, okInvoker); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(out.lines()) - 1; n != 1000 {
		t.Fatalf("1100 guards logged %d lines, want the bound, 1000", n)
	}
}
