package prometheus_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/breakerbox/breakerbox/core"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
)

// benchRegistry has 100 guards with a bulkhead and a rate limit each, as
// a large service might.
func benchRegistry(b *testing.B) *core.Registry {
	reg := newRegistry(b, core.WithPolicies(core.Policy{Name: "p", Match: []string{"*"},
		Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 10},
		RateLimit: &core.RateLimitPolicy{Limit: 1e6}}))
	for i := range 100 {
		g := reg.MustGuard(fmt.Sprintf("dependency-%03d", i))
		_ = g.Do(context.Background(), func(context.Context) error { return nil })
	}
	return reg
}

// BenchmarkCollect measures one scrape of 100 guards: Snapshot plus
// building the constant metrics (about 45 series per guard).
func BenchmarkCollect(b *testing.B) {
	c := bbprom.NewCollector(benchRegistry(b))
	ch := make(chan prometheus.Metric, 8192)
	b.ReportAllocs()
	for b.Loop() {
		c.Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}

// BenchmarkGather is a whole scrape through a Prometheus registry: collect,
// check and sort into metric families.
func BenchmarkGather(b *testing.B) {
	pr := prometheus.NewRegistry()
	pr.MustRegister(bbprom.NewCollector(benchRegistry(b)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pr.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGatherParallel is overlapping scrapes (several Prometheus
// servers scraping one process).
func BenchmarkGatherParallel(b *testing.B) {
	pr := prometheus.NewRegistry()
	pr.MustRegister(bbprom.NewCollector(benchRegistry(b)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := pr.Gather(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCallWithCollector is an admitted call on a guard whose registry
// is exported: the collector adds nothing to it (compare with the core's
// own benchmarks).
func BenchmarkCallWithCollector(b *testing.B) {
	reg := newRegistry(b)
	g := reg.MustGuard("hot")
	prometheus.NewRegistry().MustRegister(bbprom.NewCollector(reg))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := g.Allow(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			p.Done(nil)
		}
	})
}
