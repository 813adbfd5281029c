package shed_test

import (
	"context"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/shed"
)

func BenchmarkAllowAt(b *testing.B) {
	s := newShedder(b, shed.Config{})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = s.AllowAt(now, shed.Default)
	}
}

func BenchmarkAllowAtParallel(b *testing.B) {
	s := newShedder(b, shed.Config{})
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = s.AllowAt(now, shed.Default)
		}
	})
}

func BenchmarkAcquireFreeSlot(b *testing.B) {
	s := newShedder(b, shed.Config{MaxInFlight: 1 << 20})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		t, _ := s.Acquire(ctx, shed.Critical)
		t.Done()
	}
}

func TestAdmissionAllocatesNothing(t *testing.T) {
	s := newShedder(t, shed.Config{MaxInFlight: 8})
	ctx := context.Background()
	now := time.Now()
	if a := testing.AllocsPerRun(100, func() { _ = s.AllowAt(now, shed.Default) }); a != 0 {
		t.Errorf("AllowAt allocates %v times, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		tk, _ := s.Acquire(ctx, shed.Default)
		tk.Done()
	}); a != 0 {
		t.Errorf("Acquire with a free slot allocates %v times, want 0", a)
	}
}
