package core

import (
	"context"
	"testing"
)

func TestGuardHotPathsDoNotAllocate(t *testing.T) {
	r := mustRegistry(t, WithPolicies(
		Policy{Name: "plain"},
		Policy{Name: "bulk", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1 << 20}},
		Policy{Name: "open", Breaker: &BreakerPolicy{Mode: "forced-open"}},
		Policy{Name: "full", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1}},
	))
	plain, bulk, open, full := mustGuard(t, r, "plain"), mustGuard(t, r, "bulk"), mustGuard(t, r, "open"), mustGuard(t, r, "full")
	held, _ := full.Allow(bg)
	defer held.Done(nil)
	fn := func(context.Context) (int, error) { return 1, nil }
	cases := []struct {
		name string
		fn   func()
	}{
		{"Allow/Done", func() {
			p, _ := plain.Allow(bg)
			p.Done(nil)
		}},
		{"Do with breaker and bulkhead", func() { _, _ = Do(bg, bulk, fn) }},
		{"Guard.Do", func() { _ = plain.Do(bg, func(context.Context) error { return nil }) }},
		{"rejection: breaker open", func() { _, _ = open.Allow(bg) }},
		{"rejection: bulkhead full", func() { _, _ = full.Allow(bg) }},
		{"rejection through Do", func() { _, _ = Do(bg, open, fn) }},
		{"lookup of an existing guard", func() { _, _ = r.Guard("plain") }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(1000, c.fn); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", c.name, n)
		}
	}
}
