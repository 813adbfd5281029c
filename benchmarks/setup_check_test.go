package benchmarks

import (
	"errors"
	"testing"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"
)

// TestScenarioSetup checks that every library starts each scenario in the
// state the scenario needs (a closed breaker admits, an open one rejects, a
// limiter admits at the benchmarks' rate), so that a peer's new version
// cannot silently turn a benchmark into a different one.
func TestScenarioSetup(t *testing.T) {
	// Open breakers: the constructors fail the test unless they are open.
	bbOpenBreaker(t)
	bbOpenGuard(t)
	gbOpenBreaker(t)
	gbOpenTwoStep(t)
	mcOpenBreaker(t)
	cepOpenCircuit(t)
	if _, err := fsExecutor(fsOpenBreaker(t)).Get(ok); !errors.Is(err, circuitbreaker.ErrOpen) {
		t.Errorf("failsafe Get on an open breaker = %v; want ErrOpen", err)
	}

	// Closed breakers and guards admit a run of successes.
	gb, gb2, fs, fsx, fsg, fsf := gbBreaker(), gbTwoStep(), fsBreaker(), fsExecutor(fsBreaker()), fsGuard(), fsFullGuard()
	mc, cep := mcBreaker(), cepCircuit(t)
	for range 1000 {
		if _, err := mc.Do(ctx, mcOK); err != nil {
			t.Fatalf("mercari Do = %v", err)
		}
		if !mc.Ready() {
			t.Fatal("mercari Ready = false")
		}
		_ = mc.Done(ctx, nil)
		if err := cep.Execute(ctx, cepOK, nil); err != nil {
			t.Fatalf("cep21 Execute = %v", err)
		}
		if _, err := gb.Execute(ok); err != nil {
			t.Fatalf("gobreaker Execute = %v", err)
		}
		done, err := gb2.Allow()
		if err != nil {
			t.Fatalf("gobreaker two-step Allow = %v", err)
		}
		done(nil)
		if !fs.TryAcquirePermit() {
			t.Fatal("failsafe TryAcquirePermit = false")
		}
		fs.RecordSuccess()
		if _, err := fsx.Get(ok); err != nil {
			t.Fatalf("failsafe Get = %v", err)
		}
		if _, err := fsg.Get(ok); err != nil {
			t.Fatalf("failsafe Get with bulkhead = %v", err)
		}
		if _, err := fsf.Get(ok); err != nil {
			t.Fatalf("failsafe Get with four policies = %v", err)
		}
	}
	if s := gb.State(); s != gobreaker.StateClosed {
		t.Errorf("gobreaker state = %v; want closed", s)
	}
	if cep.IsOpen() {
		t.Error("cep21 circuit open after successes")
	}

	// Limiters admit a burst of calls at the benchmarks' rate.
	xt, fb, fsm := xtLimiter(), fsBursty(), fsSmooth()
	for i := range 1000 {
		if !xt.Allow() || !fb.TryAcquirePermit() || !fsm.TryAcquirePermit() {
			t.Fatalf("a peer limiter rejected call %d", i)
		}
	}
}
