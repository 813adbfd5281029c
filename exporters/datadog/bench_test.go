package datadog_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/exporters/datadog"
)

// benchClient is a real statsd client sending to a loopback UDP socket
// that nobody reads (the kernel drops what overflows).
func benchClient(b *testing.B) *statsd.Client {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	client, err := statsd.New(conn.LocalAddr().String(), statsd.WithoutTelemetry(), statsd.WithoutOriginDetection())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	return client
}

// benchRegistry has 100 guards with a bulkhead and a rate limit each.
func benchRegistry(b *testing.B) *core.Registry {
	reg := newRegistry(b, core.WithPolicies(core.Policy{Name: "p", Match: []string{"*"},
		Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 10},
		RateLimit: &core.RateLimitPolicy{Limit: 1e9}}))
	for i := range 100 {
		_ = reg.MustGuard(fmt.Sprintf("dependency-%03d", i)).Do(context.Background(), func(context.Context) error { return nil })
	}
	return reg
}

// BenchmarkPush is one push of 100 guards (about 40 metrics and a service
// check each) through a real client; a call moves the counters of one guard
// between pushes, as in a live process.
func BenchmarkPush(b *testing.B) {
	reg := benchRegistry(b)
	exp := datadog.New(reg, benchClient(b))
	g := reg.MustGuard("dependency-000")
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Do(context.Background(), func(context.Context) error { return nil })
		if err := exp.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCall is an admitted call on a guard whose registry is exported:
// without WithCallDuration the exporter adds nothing to it.
func BenchmarkCall(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []datadog.Option
	}{{"Exporter", nil}, {"CallDuration", []datadog.Option{datadog.WithCallDuration()}}} {
		b.Run(bc.name, func(b *testing.B) {
			reg := newRegistry(b)
			datadog.New(reg, benchClient(b), bc.opts...)
			g := reg.MustGuard("hot")
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
		})
	}
}

// BenchmarkCallSerial is BenchmarkCall on one goroutine.
func BenchmarkCallSerial(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []datadog.Option
	}{{"Bare", nil}, {"Exporter", nil}, {"CallDuration", []datadog.Option{datadog.WithCallDuration()}}} {
		b.Run(bc.name, func(b *testing.B) {
			reg := newRegistry(b)
			if bc.name != "Bare" {
				datadog.New(reg, benchClient(b), bc.opts...)
			}
			g := reg.MustGuard("hot")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p, err := g.Allow(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p.Done(nil)
			}
		})
	}
}
