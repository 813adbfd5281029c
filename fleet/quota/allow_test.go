package quota_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

// TestAllowDoesNotAllocate: the call path allocates nothing.
func TestAllowDoesNotAllocate(t *testing.T) {
	l, err := quota.NewLimiter(testRes, fleet.NewMemoryStore(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n := testing.AllocsPerRun(1000, func() { l.Allow() }); n != 0 {
		t.Errorf("Allow allocates %v times per call", n)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l, err := quota.NewLimiter(testRes, fleet.NewMemoryStore(), "r1")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}
