package main

import (
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin/wire"
)

func TestCostCommand(t *testing.T) {
	env := envFor(startServer(t, "-cost"), readToken)
	// payments.charge saw 10 calls at 0.002 USD: exactly 0.02.
	r := ctl(t, env, "cost").want(t, 0)
	if !strings.Contains(r.stdout, "cumulative") || !strings.Contains(r.stdout, "payments.charge") || !strings.Contains(r.stdout, "0.020000") {
		t.Errorf("cost:\n%s", r.stdout)
	}
	var rep wire.CostReport
	ctl(t, env, "cost", "--json").want(t, 0).json(t, &rep)
	if len(rep.Totals) != 1 || rep.Totals[0].Currency != "USD" || rep.Totals[0].SpentMicros != 20_000 {
		t.Fatalf("totals %+v", rep.Totals)
	}
	ctl(t, env, "cost", "--since", "1h").want(t, 0)
	if r := ctl(t, env, "cost", "--since", "48h").want(t, exitUsage); !strings.Contains(r.stderr, "--since") {
		t.Errorf("--since 48h: %s", r.stderr)
	}
	if r := ctl(t, envFor(startServer(t), readToken), "cost").want(t, 0); !strings.Contains(r.stdout, "no guard's policy has a cost") {
		t.Errorf("without costs:\n%s", r.stdout)
	}
}

func TestMicros(t *testing.T) {
	for m, want := range map[int64]string{0: "0.000000", 20_000: "0.020000", 1_234_567: "1.234567", -1: "-0.000001"} {
		if got := micros(m); got != want {
			t.Errorf("micros(%d) = %q, want %q", m, got, want)
		}
	}
}
