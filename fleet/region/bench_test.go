package region_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// wanStore is a Store seen across regions: every call, and every hint,
// takes 50 to 150ms, as between two regions.
type wanStore struct {
	fleet.Store
	lo, hi time.Duration
}

func (s wanStore) delay(ctx context.Context) error {
	d := s.lo + time.Duration(rand.Int64N(int64(s.hi-s.lo)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s wanStore) Put(ctx context.Context, k fleet.Kind, key string, v []byte, ttl time.Duration) error {
	if err := s.delay(ctx); err != nil {
		return err
	}
	return s.Store.Put(ctx, k, key, v, ttl)
}

func (s wanStore) Create(ctx context.Context, k fleet.Kind, key string, v []byte, ttl time.Duration) (bool, fleet.Entry, error) {
	if err := s.delay(ctx); err != nil {
		return false, fleet.Entry{}, err
	}
	return s.Store.Create(ctx, k, key, v, ttl)
}

func (s wanStore) CompareAndPut(ctx context.Context, k fleet.Kind, key string, old, v []byte, ttl time.Duration) (bool, error) {
	if err := s.delay(ctx); err != nil {
		return false, err
	}
	return s.Store.CompareAndPut(ctx, k, key, old, v, ttl)
}

func (s wanStore) Get(ctx context.Context, k fleet.Kind, key string) (fleet.Entry, bool, error) {
	if err := s.delay(ctx); err != nil {
		return fleet.Entry{}, false, err
	}
	return s.Store.Get(ctx, k, key)
}

func (s wanStore) Watch(ctx context.Context, fn func(fleet.Hint)) error {
	return s.Store.Watch(ctx, func(h fleet.Hint) {
		d := s.lo + time.Duration(rand.Int64N(int64(s.hi-s.lo)+1))
		time.AfterFunc(d, func() { fn(h) })
	})
}

// BenchmarkGlobalOutage measures, over b.N trips, the time from a global
// outage (every replica of two regions of three tripping "pay", scoped
// global with k=2) to every replica of every region rejecting, with
// MemoryStores as the regions' stores and 50-150ms added to every call and
// hint of the relay (between regions); the summary period is 1s. Reports
// p50-ms and p99-ms.
func BenchmarkGlobalOutage(b *testing.B) {
	const per = time.Second
	names := []string{"eu", "us", "ap"}
	stores := map[string]*fleet.MemoryStore{}
	regions := map[string][]*core.Registry{}
	var closers []func()
	var srcs []region.Source
	for _, name := range names {
		st := fleet.NewMemoryStore()
		stores[name] = st
		srcs = append(srcs, region.Source{Region: name, Store: wanStore{Store: st.Client(), lo: 50 * time.Millisecond, hi: 150 * time.Millisecond}})
		for i := range 2 {
			reg, err := core.NewRegistry(core.WithPolicies(policies()...))
			if err != nil {
				b.Fatal(err)
			}
			reg.MustGuard("pay")
			fa, err := fleet.Join(reg, st.Client(), fleet.WithReplicaID(fmt.Sprintf("%s-%d", name, i)), fleet.WithRegion(name), fleet.WithHeartbeat(per))
			if err != nil {
				b.Fatal(err)
			}
			ra, err := region.Join(fa, region.WithPeriod(per))
			if err != nil {
				b.Fatal(err)
			}
			regions[name] = append(regions[name], reg)
			closers = append(closers, func() { _ = ra.Close(); _ = fa.Close() })
		}
	}
	relay, err := region.NewRelay(srcs, region.RelayEvery(per))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = relay.Run(ctx); close(done) }()
	defer func() {
		cancel()
		<-done
		for _, c := range closers {
			c()
		}
	}()
	all := func(want breaker.State) bool {
		for _, regs := range regions {
			for _, reg := range regs {
				if reg.MustGuard("pay").Breaker().State() != want {
					return false
				}
			}
		}
		return true
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				b.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	time.Sleep(2 * per) // summaries everywhere
	var lat []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, name := range []string{"eu", "us"} {
			for _, reg := range regions[name] {
				g := reg.MustGuard("pay")
				for range 2 {
					_ = g.Do(context.Background(), func(context.Context) error { return errDep })
				}
			}
		}
		waitFor("every region rejecting", func() bool { return all(breaker.Open) })
		lat = append(lat, float64(time.Since(start))/float64(time.Millisecond))
		b.StopTimer()
		for _, name := range []string{"eu", "us"} {
			for _, reg := range regions[name] {
				reg.MustGuard("pay").Breaker().Reset(breaker.Manual{Actor: "bench", Reason: "recovered"})
			}
		}
		waitFor("every region closed", func() bool { return all(breaker.Closed) })
		time.Sleep(per / 2)
		waitFor("every region closed (settled)", func() bool { return all(breaker.Closed) })
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

var errDep = fmt.Errorf("dependency down")
