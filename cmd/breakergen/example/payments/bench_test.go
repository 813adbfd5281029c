package payments_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/cmd/breakergen/example/payments"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// BenchmarkCharge compares a call through the generated decorator with the
// same call written by hand with core.Do, and with no guard at all.
func BenchmarkCharge(b *testing.B) {
	p := &provider{}
	var causes []fallback.Cause
	c, reg := newClient(b, p, basePolicy(), &causes)
	ctx := context.Background()
	b.Run("Generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Charge(ctx, "alice", 1200); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HandWritten", func(b *testing.B) {
		g := reg.MustGuard("payments.charge")
		b.ReportAllocs()
		for b.Loop() {
			_, err := core.Do(ctx, g, func(ctx context.Context) (payments.Receipt, error) {
				ctx, cancel := context.WithTimeout(ctx, 2e9)
				defer cancel()
				return p.Charge(ctx, "alice", 1200)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unguarded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Charge(ctx, "alice", 1200); err != nil {
				b.Fatal(err)
			}
		}
	})
}
