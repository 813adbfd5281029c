package benchmarks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/cep21/circuit/v4"
	"github.com/cep21/circuit/v4/closers/hystrix"
	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	mercari "github.com/mercari/go-circuitbreaker"
	"github.com/sony/gobreaker/v2"
)

// The setup shared by the benchmarks and the allocation tests: one
// constructor per library and scenario, so that both measure the same thing.

// errBoom is the failure used to trip breakers.
var errBoom = errors.New("boom")

// longOpen keeps tripped breakers open for the whole run.
const longOpen = time.Hour

// bigLimit is a bulkhead size no benchmark reaches, so bulkheads measure
// their uncontended acquire and release.
const bigLimit = 1 << 20

// The guarded functions are package-level functions, not closures, so that
// passing them costs no allocation in any library.

func okCtx(context.Context) (struct{}, error) { return struct{}{}, nil }

func ok() (struct{}, error) { return struct{}{}, nil }

func fail() (struct{}, error) { return struct{}{}, errBoom }

var ctx = context.Background()

// breakerbox

func bbBreaker(tb testing.TB) *breaker.Breaker {
	tb.Helper()
	b, err := breaker.New(breaker.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func bbOpenBreaker(tb testing.TB) *breaker.Breaker {
	tb.Helper()
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, OpenDuration: longOpen})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := b.Allow(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	p.Done(errBoom)
	if _, err := b.Allow(ctx); !errors.Is(err, breaker.ErrOpen) {
		tb.Fatalf("breaker not open after a failure: Allow = %v", err)
	}
	return b
}

// bbGuard returns a guard with the default breaker and, when bh is set, a
// bulkhead too large to fill.
func bbGuard(tb testing.TB, bh bool) *core.Guard {
	tb.Helper()
	p := core.Policy{Name: "bench"}
	if bh {
		p.Bulkhead = &core.BulkheadPolicy{MaxConcurrent: bigLimit}
	}
	reg, err := core.NewRegistry(core.WithDefaultPolicy(p))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := reg.Guard("bench")
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func bbOpenGuard(tb testing.TB) *core.Guard {
	tb.Helper()
	g := bbGuard(tb, false)
	g.OpenFor(longOpen, breaker.Manual{Actor: "bench", Reason: "open scenario"})
	if _, err := core.Do(ctx, g, okCtx); !errors.Is(err, breaker.ErrOpen) {
		tb.Fatalf("guard not open: Do = %v", err)
	}
	return g
}

func bbBulkhead(tb testing.TB) *bulkhead.Bulkhead {
	tb.Helper()
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: bigLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sony/gobreaker

func gbBreaker() *gobreaker.CircuitBreaker[struct{}] {
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{Name: "bench"})
}

func gbTwoStep() *gobreaker.TwoStepCircuitBreaker[struct{}] {
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{Name: "bench"})
}

func gbOpenSettings() gobreaker.Settings {
	return gobreaker.Settings{
		Name:        "bench",
		Timeout:     longOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
	}
}

func gbOpenBreaker(tb testing.TB) *gobreaker.CircuitBreaker[struct{}] {
	tb.Helper()
	cb := gobreaker.NewCircuitBreaker[struct{}](gbOpenSettings())
	_, _ = cb.Execute(fail)
	if _, err := cb.Execute(ok); !errors.Is(err, gobreaker.ErrOpenState) {
		tb.Fatalf("gobreaker not open: Execute = %v", err)
	}
	return cb
}

func gbOpenTwoStep(tb testing.TB) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	tb.Helper()
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gbOpenSettings())
	done, err := cb.Allow()
	if err != nil {
		tb.Fatal(err)
	}
	done(errBoom)
	if _, err := cb.Allow(); !errors.Is(err, gobreaker.ErrOpenState) {
		tb.Fatalf("gobreaker not open: Allow = %v", err)
	}
	return cb
}

// failsafe-go

func fsBreaker() circuitbreaker.CircuitBreaker[struct{}] {
	return circuitbreaker.NewWithDefaults[struct{}]()
}

func fsOpenBreaker(tb testing.TB) circuitbreaker.CircuitBreaker[struct{}] {
	tb.Helper()
	cb := circuitbreaker.NewBuilder[struct{}]().WithDelay(longOpen).Build()
	cb.RecordFailure()
	if !cb.IsOpen() {
		tb.Fatal("failsafe breaker not open after a failure")
	}
	return cb
}

// fsExecutor builds the executor once, as a service would, so that each
// call pays only for Get.
func fsExecutor(ps ...failsafe.Policy[struct{}]) failsafe.Executor[struct{}] {
	return failsafe.With(ps...)
}

func fsGuard() failsafe.Executor[struct{}] {
	// Outermost first, as in a breakerbox guard: bulkhead, then breaker.
	return failsafe.With[struct{}](fsbulkhead.New[struct{}](bigLimit), circuitbreaker.NewWithDefaults[struct{}]())
}

// mercari/go-circuitbreaker: Do with an Operation, and its two-step form,
// Ready then Done.

func mcBreaker() *mercari.CircuitBreaker { return mercari.New() }

func mcOpenBreaker(tb testing.TB) *mercari.CircuitBreaker {
	tb.Helper()
	cb := mercari.New(
		mercari.WithTripFunc(mercari.NewTripFuncConsecutiveFailures(1)),
		mercari.WithOpenTimeout(longOpen),
	)
	_ = cb.Done(ctx, errBoom)
	if _, err := cb.Do(ctx, mcOK); !errors.Is(err, mercari.ErrOpen) {
		tb.Fatalf("mercari not open: Do = %v", err)
	}
	return cb
}

func mcOK() (any, error) { return nil, nil }

// cep21/circuit: Execute on a circuit with the hystrix opener and closer
// (which keep the rolling counts a breaker trips on), without the library's
// default one-second execution timeout and ten-call concurrency limit, which
// the other libraries' breakers do not have either.

func cepConfig() circuit.Config {
	f := hystrix.Factory{ConfigureCloser: hystrix.ConfigureCloser{SleepWindow: longOpen}}
	c := f.Configure("bench")
	c.Execution.Timeout = -1
	c.Execution.MaxConcurrentRequests = -1
	return c
}

func cepCircuit(tb testing.TB) *circuit.Circuit {
	tb.Helper()
	var m circuit.Manager
	c, err := m.CreateCircuit("bench", cepConfig())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func cepOpenCircuit(tb testing.TB) *circuit.Circuit {
	tb.Helper()
	c := cepCircuit(tb)
	c.OpenCircuit(ctx)
	if err := c.Execute(ctx, cepOK, nil); err == nil || !c.IsOpen() {
		tb.Fatalf("cep21 circuit not open: Execute = %v", err)
	}
	return c
}

func cepOK(context.Context) error { return nil }

// cpu-ns/op: the machines this suite runs on are shared, and ns/op (wall
// time) counts the time the benchmark waits for a core. The process's CPU
// time per operation does not, so every benchmark reports it too:
//
//	defer reportCPU(b, startCPU())
//
// right before its loop. For a serial benchmark it is close to ns/op on an
// idle machine; for a RunParallel one it is the CPU spent on all cores per
// operation (about GOMAXPROCS times ns/op when every core is busy), so it
// stays flat from -cpu 1 to -cpu 2 for code that scales perfectly and grows
// with contention. It includes the runtime's and the libraries' background
// goroutines (GC, timers, ratelimit's coarse clock).

type cpuStart struct {
	t  time.Duration
	ok bool
}

func startCPU() cpuStart {
	t, ok := processCPU()
	return cpuStart{t, ok}
}

func reportCPU(b *testing.B, s cpuStart) {
	t, ok := processCPU()
	if !ok || !s.ok || b.N == 0 {
		return
	}
	b.ReportMetric(float64(t-s.t)/float64(b.N), "cpu-ns/op")
}
