package natsstore_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// Store calls on loopback against an embedded nats-server (file storage).
func BenchmarkStore(b *testing.B) {
	srv := startServer(b)
	_, js := connect(b, srv.URL())
	s := newStore(b, js)
	ctx := context.Background()
	val := []byte(`{"v":1,"kind":"verdict","data":{"guard":"payments","replica":"r1","open":true}}`)

	b.Run("Put", func(b *testing.B) {
		for b.Loop() {
			if err := s.Put(ctx, fleet.KindVerdict, "payments|r1", val, 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Get(ctx, fleet.KindVerdict, "payments|r1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CompareAndPut", func(b *testing.B) {
		_ = s.Put(ctx, fleet.KindLease, "payments", []byte("0"), 0)
		n := 0
		for b.Loop() {
			next := []byte(strconv.Itoa(n + 1))
			if ok, err := s.CompareAndPut(ctx, fleet.KindLease, "payments", []byte(strconv.Itoa(n)), next, 5*time.Second); err != nil || !ok {
				b.Fatal(ok, err)
			}
			n++
		}
	})
	b.Run("NextVersion", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.NextVersion(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("List100", func(b *testing.B) {
		for i := range 100 {
			_ = s.Put(ctx, fleet.KindMember, "replica-"+strconv.Itoa(i), val, time.Minute)
		}
		for b.Loop() {
			l, err := s.List(ctx, fleet.KindMember)
			if err != nil || len(l) != 100 {
				b.Fatal(len(l), err)
			}
		}
	})
}

// BenchmarkHint measures the time from a Put on one connection to its hint
// on another's Watch: the store's share of the fleet's convergence time.
func BenchmarkHint(b *testing.B) {
	srv := startServer(b)
	_, jsW := connect(b, srv.URL())
	_, jsP := connect(b, srv.URL())
	watcher, putter := newStore(b, jsW), newStore(b, jsP)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan struct{}, 1)
	ready := make(chan struct{})
	go func() {
		_ = watcher.Watch(ctx, func(h fleet.Hint) {
			if h.Resync {
				close(ready)
				return
			}
			if h.Kind == fleet.KindVerdict {
				got <- struct{}{}
			}
		})
	}()
	<-ready
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := putter.Put(ctx, fleet.KindVerdict, "payments|r2", []byte("open"), 10*time.Second); err != nil {
			b.Fatal(err)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
