package record_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/record"
)

// BenchmarkRecorder measures what recording adds to a closed guard's
// Allow and Done: nothing attached, every call recorded, one in 100. The
// difference between "none" and "1-in-100" is the OnDone hook's clock
// reads plus a random number; "all" adds a wall-clock read and the
// buffer's critical section. dropped/op shows the writer falling behind
// (a dropped event costs less than a recorded one).
func BenchmarkRecorder(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every int
	}{{"none", 0}, {"all", 1}, {"1-in-100", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			reg, err := core.NewRegistry()
			if err != nil {
				b.Fatal(err)
			}
			var rec *record.Recorder
			if bc.every > 0 {
				rec, err = record.New(b.TempDir(), record.WithSampling(bc.every), record.WithQueue(1<<16))
				if err != nil {
					b.Fatal(err)
				}
				defer rec.Close()
				defer rec.Attach(reg)()
			}
			g := reg.MustGuard("dep")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p, err := g.Allow(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p.Done(nil)
			}
			if rec != nil {
				b.ReportMetric(float64(rec.Stats().Dropped)/float64(b.N), "dropped/op")
			}
		})
	}
}
