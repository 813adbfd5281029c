package benchmarks

import (
	"context"
	"errors"
	"testing"

	"github.com/cep21/circuit/v4"
	"github.com/cep21/circuit/v4/closers/hystrix"
	mercari "github.com/mercari/go-circuitbreaker"
)

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
