package grpcmw_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// testServices is a server with grpc-go's test service and the health
// service registered (never served: Validate only lists its services).
func testServices() *grpc.Server {
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &testServer{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	return srv
}

// errLines splits a joined error into its lines.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// defaultLine is Validate's report of a method whose guard, named after it,
// falls to the default policy.
func defaultLine(method string) string {
	return `grpcmw: method ` + method + `: guard "` + method + `" has the registry's default policy "default": ` +
		`no policy is named after it or matches it (add a policy whose Match pattern selects it, or use WithPolicy)`
}

// Validate reports the methods whose guard falls to the default policy and
// the patterns aimed at the services that match none of their methods, and
// leaves alone the patterns aimed elsewhere (HTTP routes, other services,
// hosts) and the unguarded health service.
func TestValidateReportsDefaultPolicyMethodsAndUnusedPatterns(t *testing.T) {
	reg := newRegistry(t,
		core.Policy{Name: "unary", Match: []string{mEmpty, "/grpc.testing.TestService/UnaryCal"}},
		core.Policy{Name: "streams", Match: []string{"/grpc.testing.TestService/Streaming*", mFullDuplex}},
		core.Policy{Name: "elsewhere", Match: []string{"GET /report", "/api/*", "/other.Svc/*", "api.example.com"}},
		core.Policy{Name: "any service", Match: []string{"/*/NoSuchMethod"}},
	)
	err := grpcmw.Validate(reg, testServices())
	want := []string{
		defaultLine("/grpc.testing.TestService/CacheableUnaryCall"),
		defaultLine("/grpc.testing.TestService/HalfDuplexCall"),
		defaultLine(mUnary),
		defaultLine("/grpc.testing.TestService/UnimplementedCall"),
		`grpcmw: policy "unary": Match pattern "/grpc.testing.TestService/UnaryCal" matches no guarded method of its services`,
		`grpcmw: policy "any service": Match pattern "/*/NoSuchMethod" matches no guarded method of its services`,
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Fatalf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// It created the guards of the guarded methods, not the health
	// service's.
	if p := mustGuard(t, reg, mFullDuplex).Policy().Name; p != "streams" {
		t.Errorf("%s has policy %q, want streams", mFullDuplex, p)
	}
	if _, ok := reg.Lookup(mUnary); !ok {
		t.Errorf("no guard for %s", mUnary)
	}
	if _, ok := reg.Lookup("/" + grpcmw.HealthService + "/Check"); ok {
		t.Error("Validate created a guard for the health service")
	}
}

// With a policy for every method and no stray pattern, Validate returns nil,
// and a first call does not log the default policy.
func TestValidatePassesAndCreatesGuards(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "inbound", Match: []string{"/grpc.testing.TestService/*"}})
	if err := grpcmw.Validate(reg, testServices()); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Snapshot()); n != 8 {
		t.Fatalf("%d guards, want one per method of the test service (8)", n)
	}
}

// An explicit policy, WithPolicy's or core.UsePolicy's, is not the default;
// WithPolicy's policy must exist, and so must core.UsePolicy's.
func TestValidateExplicitPolicies(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "inbound"})
	if err := grpcmw.Validate(reg, testServices(), grpcmw.WithPolicy("inbound")); err != nil {
		t.Errorf("WithPolicy: %v", err)
	}
	reg = newRegistry(t, core.Policy{Name: "inbound"})
	if err := grpcmw.Validate(reg, testServices(), grpcmw.WithGuardOptions(core.UsePolicy("inbound"))); err != nil {
		t.Errorf("core.UsePolicy: %v", err)
	}
	err := grpcmw.Validate(reg, testServices(), grpcmw.WithPolicy("inbuond"))
	if got := errLines(err); len(got) != 1 || !strings.Contains(got[0], `WithPolicy("inbuond")`) {
		t.Errorf("unknown WithPolicy: %q, want one error naming it", got)
	}
	reg = newRegistry(t)
	err = grpcmw.Validate(reg, testServices(), grpcmw.WithGuardOptions(core.UsePolicy("inbuond")))
	if got := errLines(err); len(got) != 8 || !strings.Contains(got[0], "inbuond") {
		t.Errorf("unknown core.UsePolicy: %q, want one error per method", got)
	}
}

// Under ServiceKey, the guards are named after services: a pattern of full
// methods matches none of them, and the service's guard falls to the
// default policy.
func TestValidateServiceKeyWithMethodPatterns(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "inbound", Match: []string{"/grpc.testing.TestService/*"}})
	err := grpcmw.Validate(reg, testServices(), grpcmw.WithKey(grpcmw.ServiceKey))
	want := []string{
		`grpcmw: method /grpc.testing.TestService/CacheableUnaryCall: guard "grpc.testing.TestService" has the registry's default policy "default": ` +
			`no policy is named after it or matches it (add a policy whose Match pattern selects it, or use WithPolicy)`,
		`grpcmw: policy "inbound": Match pattern "/grpc.testing.TestService/*" matches no guarded method of its services`,
	}
	// The guard exists after the first method: later methods share it.
	if got := errLines(err); !slices.Equal(got, want) {
		t.Fatalf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// On a client, Services lists the services it calls; the Matcher and the
// selector choose the guarded methods, seeing them as client calls of
// their type.
func TestValidateClientServices(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "unary", Match: []string{"/grpc.testing.TestService/*"}})
	var seen []string
	sel := selector.MatchFunc(func(_ context.Context, cm interceptors.CallMeta) bool {
		seen = append(seen, string(cm.Typ)+" "+cm.Method)
		return cm.IsClient && cm.Typ == interceptors.Unary
	})
	err := grpcmw.Validate(reg, grpcmw.Services(&testpb.TestService_ServiceDesc, nil),
		grpcmw.WithSelector(sel), grpcmw.WithMatcher(grpcmw.Not(grpcmw.MatchMethods(mEmpty))))
	if err != nil {
		t.Fatal(err)
	}
	if got := guardNames(reg); !slices.Equal(got, []string{
		"/grpc.testing.TestService/CacheableUnaryCall", mUnary, "/grpc.testing.TestService/UnimplementedCall",
	}) {
		t.Errorf("guards %q", got)
	}
	slices.Sort(seen)
	if want := []string{
		"bidi_stream FullDuplexCall", "bidi_stream HalfDuplexCall", "client_stream StreamingInputCall",
		"server_stream StreamingOutputCall", "unary CacheableUnaryCall", "unary UnaryCall", "unary UnimplementedCall",
	}; !slices.Equal(seen, want) {
		t.Errorf("selector saw %q, want %q", seen, want)
	}
}

func TestValidateNeedsRegistryAndServices(t *testing.T) {
	if err := grpcmw.Validate(nil, testServices()); err == nil || !strings.Contains(err.Error(), "registry") {
		t.Errorf("nil registry: %v", err)
	}
	if err := grpcmw.Validate(newRegistry(t), nil); err == nil || !strings.Contains(err.Error(), "services") {
		t.Errorf("nil services: %v", err)
	}
}
