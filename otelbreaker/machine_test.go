package otelbreaker_test

import (
	"context"
	"testing"

	otellog "go.opentelemetry.io/otel/log"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// A change of a guard's custom state is a log record of its own.
func TestMachineStateChangeEvent(t *testing.T) {
	e := newEnv(t, policies())
	g := e.reg.MustGuard("priced.llm") // its policy has custom states
	_ = g.Do(context.Background(), ok)
	if _, err := g.SetMachineState("degraded", breaker.Manual{Actor: "bob", Reason: "load test"}); err != nil {
		t.Fatal(err)
	}
	var found int
	for _, r := range e.logs.records() {
		if r.EventName() != otelbreaker.MachineStateChangeEventName {
			continue
		}
		found++
		a := logAttrs(r)
		if a["breakerbox.machine.state"] != "degraded" || a["breakerbox.machine.previous_state"] != "healthy" ||
			a["breakerbox.circuit_breaker.actor"] != "bob" || a["breakerbox.guard.name"] != "priced.llm" || a["breakerbox.policy.name"] != "priced" {
			t.Errorf("attributes %v", a)
		}
		if r.Severity() != otellog.SeverityInfo {
			t.Errorf("severity %v", r.Severity())
		}
	}
	if found != 1 {
		t.Fatalf("%d machine records, want 1", found)
	}
}
