package e2e

import (
	"net"

	"github.com/breakerbox/breakerbox/grpcmw"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// TestAPMTraces sends the traces of failing calls, made through httpmw on
// both sides and through core.Do, to a real Jaeger over OTLP, and reads
// them back from Jaeger's query API: the rejections' attributes must be on
// the spans of the rejected calls, and each breaker's state change must be
// an event on the span of the call that tripped it.
func TestAPMTraces(t *testing.T) {
	j := startJaeger(t)
	ctx := context.Background()

	service := "breakerbox-e2e-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(j.otlpHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	defer func() { _ = tp.Shutdown(ctx) }()
	prop := propagation.TraceContext{}

	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "e2e",
		Breaker: &core.BreakerPolicy{DisableFailureRate: true, ConsecutiveFailures: 3, OpenDuration: core.Duration(time.Hour)}}))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inst.Shutdown(ctx) }()
	tracer := tp.Tracer("e2e")

	// 1. Server side: httpmw inside otelhttp.NewHandler, a handler that
	// always fails. Three 500s trip the route's breaker, then 503s.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /inventory", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})
	server := httptest.NewServer(otelhttp.NewHandler(httpmw.Middleware(reg)(mux), "inventory-service",
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop)))
	defer server.Close()
	plain := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop))}
	var statuses []int
	for range 5 {
		ctx, span := tracer.Start(ctx, "checkout")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+"/inventory", nil)
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		span.End()
	}
	if want := []int{500, 500, 500, 503, 503}; !equalInts(statuses, want) {
		t.Fatalf("server statuses %v, want %v", statuses, want)
	}

	// 2. Client side: httpmw's Transport outside otelhttp.Transport, to a
	// backend that always fails. Rejected requests are never sent.
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer backend.Close()
	guarded := &http.Client{Transport: httpmw.NewTransport(
		otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop)),
		httpmw.WithRegistry(reg))}
	var rejectedClient int
	for range 5 {
		ctx, span := tracer.Start(ctx, "quote")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, backend.URL+"/quote", nil)
		resp, err := guarded.Do(req)
		switch {
		case errors.Is(err, core.ErrRejected):
			rejectedClient++
		case err != nil:
			t.Fatal(err)
		default:
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		span.End()
	}
	if rejectedClient != 2 {
		t.Fatalf("%d client requests rejected, want 2", rejectedClient)
	}

	// 3. A plain guarded function.
	charge := reg.MustGuard("payments.charge")
	var rejectedDo int
	for range 5 {
		ctx, span := tracer.Start(ctx, "charge")
		err := charge.Do(ctx, func(context.Context) error { return errors.New("card processor timeout") })
		if errors.Is(err, core.ErrRejected) {
			rejectedDo++
		}
		span.End()
	}
	if rejectedDo != 2 {
		t.Fatalf("%d guarded calls rejected, want 2", rejectedDo)
	}

	// 4. gRPC: grpcmw's client interceptor in front of otelgrpc's client
	// stats handler, to a server whose method always answers Unavailable.
	// Rejected calls never start an RPC, so they make no client span.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gsrv := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))
	testpb.RegisterTestServiceServer(gsrv, unavailableService{})
	go func() { _ = gsrv.Serve(lis) }()
	defer gsrv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))),
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	stock := testpb.NewTestServiceClient(conn)
	var rejectedGRPC int
	for range 5 {
		ctx, span := tracer.Start(ctx, "stock")
		_, err := stock.EmptyCall(ctx, &testpb.Empty{})
		if errors.Is(err, core.ErrRejected) {
			rejectedGRPC++
			if status.Code(err) != codes.Unavailable {
				t.Errorf("a rejected gRPC call answered %v, want Unavailable", status.Code(err))
			}
		}
		span.End()
	}
	if rejectedGRPC != 2 {
		t.Fatalf("%d gRPC calls rejected, want 2", rejectedGRPC)
	}

	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("exporting to Jaeger: %v", err)
	}

	// Read everything back; Jaeger stores spans asynchronously, so poll
	// (bounded) until all 5+5+5 calls' traces are there.
	var traces []jTrace
	deadline := time.Now().Add(60 * time.Second)
	for {
		traces, err = j.traces(ctx, service)
		if err != nil {
			t.Fatal(err)
		}
		// 20 roots; 5 client + 5 server spans (plain HTTP client), 3 client spans
		// (guarded HTTP client, admitted), 3 client + 3 server spans (gRPC, admitted).
		if spanCount(traces) >= 39 && len(traces) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger holds %d traces and %d spans of %s after 60s, want 20 traces", len(traces), spanCount(traces), service)
		}
		time.Sleep(200 * time.Millisecond) // polling a real process, bounded by the deadline
	}

	var serverRejected, serverTripped, clientRejected, clientTripped, doRejected, doTripped, grpcRejected, grpcTripped int
	for _, tr := range traces {
		for _, s := range tr.Spans {
			rejected := s.tag("breakerbox.outcome") == "rejected" && s.tag("error.type") == "circuit_open" &&
				s.tag("breakerbox.circuit_breaker.state") == "open" && s.tag("breakerbox.policy.name") == "e2e"
			tripped := hasStateChange(s, "open")
			switch {
			case s.tag("span.kind") == "server":
				if rejected {
					serverRejected++
					if s.tag("breakerbox.guard.name") != "GET /inventory" || s.tag("http.response.status_code") != "503" || s.tag("otel.status_code") != "ERROR" {
						t.Errorf("rejected server span: %+v", s.Tags)
					}
				}
				if tripped {
					serverTripped++
				}
			case s.OperationName == "quote":
				if rejected {
					clientRejected++
					if len(tr.Spans) != 1 {
						t.Errorf("a rejected client request made %d spans, want only the caller's", len(tr.Spans))
					}
					if !strings.HasPrefix(s.tag("breakerbox.guard.name"), "127.0.0.1:") {
						t.Errorf("client guard name %q, want the backend's host", s.tag("breakerbox.guard.name"))
					}
				}
				if tripped {
					clientTripped++
				}
			case s.OperationName == "stock":
				if rejected {
					grpcRejected++
					if len(tr.Spans) != 1 {
						t.Errorf("a rejected gRPC call made %d spans, want only the caller's", len(tr.Spans))
					}
					if s.tag("breakerbox.guard.name") != "/grpc.testing.TestService/EmptyCall" {
						t.Errorf("gRPC guard name %q, want the full method", s.tag("breakerbox.guard.name"))
					}
				}
				if tripped {
					grpcTripped++
				}
			case s.OperationName == "charge":
				if rejected {
					doRejected++
					if s.tag("breakerbox.guard.name") != "payments.charge" || s.tag("otel.status_code") != "ERROR" {
						t.Errorf("rejected guarded span: %+v", s.Tags)
					}
				}
				if tripped {
					doTripped++
				}
			}
		}
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"server spans with the rejection's attributes", serverRejected, 2},
		{"server spans with the state-change event", serverTripped, 1},
		{"caller spans with the client rejection's attributes", clientRejected, 2},
		{"caller spans with the client breaker's state-change event", clientTripped, 1},
		{"guarded-call spans with the rejection's attributes", doRejected, 2},
		{"guarded-call spans with the state-change event", doTripped, 1},
		{"caller spans with the gRPC client rejection's attributes", grpcRejected, 2},
		{"caller spans with the gRPC client breaker's state-change event", grpcTripped, 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	t.Logf("read %d traces (%d spans) of service %s back from Jaeger's query API", len(traces), spanCount(traces), service)
}

func hasStateChange(s jSpan, to string) bool {
	for _, ev := range s.events() {
		if ev["event"] == otelbreaker.StateChangeEventName && ev["breakerbox.circuit_breaker.state"] == to &&
			ev["breakerbox.circuit_breaker.previous_state"] == "closed" && ev["breakerbox.circuit_breaker.reason"] != "" {
			return true
		}
	}
	return false
}

func spanCount(ts []jTrace) int {
	n := 0
	for _, t := range ts {
		n += len(t.Spans)
	}
	return n
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unavailableService is a gRPC test service whose EmptyCall always fails
// with Unavailable, a failure for grpcmw's default classifier.
type unavailableService struct {
	testpb.UnimplementedTestServiceServer
}

func (unavailableService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return nil, status.Error(codes.Unavailable, "inventory database down")
}
