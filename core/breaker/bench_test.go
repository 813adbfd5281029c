package breaker

import (
	"testing"
	"time"
)

func BenchmarkClosed(b *testing.B) {
	br, _ := New(Config{})
	b.ReportAllocs()
	for b.Loop() {
		p, _ := br.Allow(bg)
		p.Done(nil)
	}
}

func BenchmarkClosedParallel(b *testing.B) {
	br, _ := New(Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := br.Allow(bg)
			p.Done(nil)
		}
	})
}

func BenchmarkClosedTimeWindow(b *testing.B) {
	br, _ := New(Config{Window: TimeWindow})
	b.ReportAllocs()
	for b.Loop() {
		p, _ := br.Allow(bg)
		p.Done(nil)
	}
}

func BenchmarkClosedFailure(b *testing.B) {
	br, _ := New(Config{DisableFailureRate: true, ConsecutiveFailures: 1 << 30})
	b.ReportAllocs()
	for b.Loop() {
		p, _ := br.Allow(bg)
		p.Done(boom)
	}
}

func BenchmarkOpen(b *testing.B) {
	br, _ := New(Config{})
	br.OpenFor(time.Hour, Manual{Actor: "bench"})
	b.ReportAllocs()
	for b.Loop() {
		_, _ = br.Allow(bg)
	}
}

func BenchmarkOpenParallel(b *testing.B) {
	br, _ := New(Config{})
	br.OpenFor(time.Hour, Manual{Actor: "bench"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = br.Allow(bg)
		}
	})
}
