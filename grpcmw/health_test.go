package grpcmw_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/grpcmw"
)

const (
	serving    = healthpb.HealthCheckResponse_SERVING
	notServing = healthpb.HealthCheckResponse_NOT_SERVING
)

// watcher reads one health Watch stream.
type watcher struct {
	t *testing.T
	s healthpb.Health_WatchClient
}

func watch(t *testing.T, ctx context.Context, hc healthpb.HealthClient, service string) *watcher {
	t.Helper()
	s, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	return &watcher{t: t, s: s}
}

// next expects the next status the stream sends to be want.
func (w *watcher) next(want healthpb.HealthCheckResponse_ServingStatus) {
	w.t.Helper()
	resp, err := w.s.Recv()
	if err != nil {
		w.t.Fatalf("watch: %v", err)
	}
	if resp.GetStatus() != want {
		w.t.Fatalf("watch: status %v, want %v", resp.GetStatus(), want)
	}
}

func TestHealthFollowsCriticalBreakers(t *testing.T) {
	ts := &testServer{}
	hs := health.NewServer()
	reg := newRegistry(t,
		core.Policy{Name: "critical", Critical: true, Match: []string{"/grpc.testing.TestService/*"},
			Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, DisableFailureRate: true,
				OpenDuration: core.Duration(time.Second), OpenBackoff: 1}},
		core.Policy{Name: "minor", Match: []string{"minor.*"}})
	h := grpcmw.NewHealth(reg, hs, grpcmw.HealthServices(svcName))
	addr := serve(t, ts, hs,
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg)))
	cc := dial(t, addr)
	hc := healthpb.NewHealthClient(cc)
	client := testpb.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	svc := watch(t, ctx, hc, svcName)
	overall := watch(t, ctx, hc, "")
	svc.next(serving)
	overall.next(serving)

	// An operator forces a critical guard open: its service stops serving,
	// the process as a whole does not.
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ForceOpen(core.Name(mEmpty), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	svc.next(notServing)
	if got := h.Down(svcName); !slices.Equal(got, []string{mEmpty}) {
		t.Fatalf("Down = %v", got)
	}
	if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != serving {
		t.Fatalf("overall status %v, %v; want SERVING", resp, err)
	}
	if _, err := reg.Release(core.Name(mEmpty), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	svc.next(serving)

	// The server's own breaker trips on failures: NOT_SERVING; once it
	// half-opens (probes must be able to arrive) SERVING again.
	ts.failing.Store(int32(codes.Internal))
	for i := 0; i < 3; i++ {
		_, _ = client.UnaryCall(ctx, &testpb.SimpleRequest{})
	}
	svc.next(notServing)
	svc.next(serving)
	if s := mustGuard(t, reg, mUnary).Breaker().State(); s == breaker.Open {
		t.Fatalf("SERVING while the breaker is %v", s)
	}

	// A non-critical guard never changes a status.
	reg.MustGuard("minor.dep").ForceOpen(breaker.Manual{Actor: "test"})
	if got := h.Down(svcName); len(got) != 0 {
		t.Fatalf("Down = %v after a non-critical guard opened", got)
	}

	// The overall service follows readiness only.
	h.SetReady(false)
	overall.next(notServing)
	h.SetReady(true)
	overall.next(serving)
}

func TestHealthStartsFromCurrentStates(t *testing.T) {
	hs := health.NewServer()
	reg := newRegistry(t, core.Policy{Name: "critical", Critical: true, Match: []string{"/*/*", "stripe"}})
	reg.MustGuard("/payments.Payments/Charge").ForceOpen(breaker.Manual{Actor: "test"})
	reg.MustGuard("stripe").ForceOpen(breaker.Manual{Actor: "test"})
	reg.MustGuard("/orders.Orders/Get")

	toPayments := func(g *core.Guard) []string {
		if g.Name() == "stripe" {
			return []string{"payments.Payments", "billing.Billing"}
		}
		return grpcmw.DefaultHealthMapping(g)
	}
	h := grpcmw.NewHealth(reg, hs, grpcmw.HealthMapping(toPayments), grpcmw.HealthServices("billing.Billing", "catalog.Catalog"))
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("check %q: %v", service, err)
		}
		return resp.GetStatus()
	}
	for svc, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		"payments.Payments": notServing,
		"billing.Billing":   notServing,
		"orders.Orders":     serving,
		"catalog.Catalog":   serving,
	} {
		if got := check(svc); got != want {
			t.Errorf("%s: %v, want %v", svc, got, want)
		}
	}
	if got := h.Down("payments.Payments"); !slices.Equal(got, []string{"/payments.Payments/Charge", "stripe"}) {
		t.Fatalf("Down = %v", got)
	}

	// Both guards must close before payments serves again.
	_, _ = reg.Release(core.Name("stripe"), breaker.Manual{})
	if check("payments.Payments") != notServing || check("billing.Billing") != serving {
		t.Fatal("after releasing stripe")
	}
	_, _ = reg.Release(core.Name("/payments.Payments/Charge"), breaker.Manual{})
	if check("payments.Payments") != serving {
		t.Fatal("after releasing both")
	}
}

func TestDefaultHealthMapping(t *testing.T) {
	reg := newRegistry(t)
	for name, want := range map[string]string{
		"/pkg.Svc/Method":      "pkg.Svc",
		"pkg.Svc":              "pkg.Svc",
		"/pkg.Svc/Method@acme": "pkg.Svc",
		"pkg.Svc@acme":         "pkg.Svc",
	} {
		got := grpcmw.DefaultHealthMapping(reg.MustGuard(name))
		if len(got) != 1 || got[0] != want {
			t.Errorf("%q: %v, want %q", name, got, want)
		}
	}
}
