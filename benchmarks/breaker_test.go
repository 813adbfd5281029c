package benchmarks

import (
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// Closed: a closed breaker admits a call that succeeds. Each library is
// driven through its idiomatic API: breakerbox Allow and Done, gobreaker
// Execute (and its two-step Allow), failsafe-go Executor.Get (and its
// permit API), mercari/go-circuitbreaker Do (and Ready + Done), cep21/circuit
// Execute.

func BenchmarkClosed(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		br := bbBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			p, err := br.Allow(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.Done(nil)
		}
	})
	b.Run("gobreaker", func(b *testing.B) {
		cb := gbBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := cb.Execute(ok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gobreaker-twostep", func(b *testing.B) {
		cb := gbTwoStep()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			done, err := cb.Allow()
			if err != nil {
				b.Fatal(err)
			}
			done(nil)
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsExecutor(fsBreaker())
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := exec.Get(ok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe-permit", func(b *testing.B) {
		cb := fsBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !cb.TryAcquirePermit() {
				b.Fatal("rejected")
			}
			cb.RecordSuccess()
		}
	})
	b.Run("mercari", func(b *testing.B) {
		cb := mcBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := cb.Do(ctx, mcOK); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mercari-twostep", func(b *testing.B) {
		cb := mcBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !cb.Ready() {
				b.Fatal("rejected")
			}
			_ = cb.Done(ctx, nil)
		}
	})
	b.Run("cep21", func(b *testing.B) {
		c := cepCircuit(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if err := c.Execute(ctx, cepOK, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClosedParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		br := bbBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := br.Allow(ctx)
				if err != nil {
					panic(err)
				}
				p.Done(nil)
			}
		})
	})
	b.Run("gobreaker", func(b *testing.B) {
		cb := gbBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Execute(ok); err != nil {
					panic(err)
				}
			}
		})
	})
	b.Run("gobreaker-twostep", func(b *testing.B) {
		cb := gbTwoStep()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				done, err := cb.Allow()
				if err != nil {
					panic(err)
				}
				done(nil)
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsExecutor(fsBreaker())
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := exec.Get(ok); err != nil {
					panic(err)
				}
			}
		})
	})
	b.Run("failsafe-permit", func(b *testing.B) {
		cb := fsBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !cb.TryAcquirePermit() {
					panic("rejected")
				}
				cb.RecordSuccess()
			}
		})
	})
	b.Run("mercari", func(b *testing.B) {
		cb := mcBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Do(ctx, mcOK); err != nil {
					panic(err)
				}
			}
		})
	})
	b.Run("mercari-twostep", func(b *testing.B) {
		cb := mcBreaker()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !cb.Ready() {
					panic("rejected")
				}
				_ = cb.Done(ctx, nil)
			}
		})
	})
	b.Run("cep21", func(b *testing.B) {
		c := cepCircuit(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Execute(ctx, cepOK, nil); err != nil {
					panic(err)
				}
			}
		})
	})
}

// ClosedGuard: the Closed scenario through a breakerbox guard with core.Do
// (registry guard, default policy, no bulkhead, no hooks).

func BenchmarkClosedGuard(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbGuard(b, false)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(ctx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClosedGuardParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbGuard(b, false)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := core.Do(ctx, g, okCtx); err != nil {
					panic(err)
				}
			}
		})
	})
}

// Open: an open breaker (tripped by one failure, open for an hour) rejects
// the call. OpenGuard is the same through a breakerbox guard with core.Do.

func BenchmarkOpen(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		br := bbOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := br.Allow(ctx); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("gobreaker", func(b *testing.B) {
		cb := gbOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := cb.Execute(ok); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("gobreaker-twostep", func(b *testing.B) {
		cb := gbOpenTwoStep(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := cb.Allow(); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsExecutor(fsOpenBreaker(b))
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := exec.Get(ok); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("failsafe-permit", func(b *testing.B) {
		cb := fsOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if cb.TryAcquirePermit() {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("mercari", func(b *testing.B) {
		cb := mcOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := cb.Do(ctx, mcOK); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("mercari-twostep", func(b *testing.B) {
		cb := mcOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if cb.Ready() {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("cep21", func(b *testing.B) {
		c := cepOpenCircuit(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if err := c.Execute(ctx, cepOK, nil); err == nil {
				b.Fatal("admitted")
			}
		}
	})
}

func BenchmarkOpenParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		br := bbOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := br.Allow(ctx); err == nil {
					panic("admitted")
				}
			}
		})
	})
	b.Run("gobreaker", func(b *testing.B) {
		cb := gbOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Execute(ok); err == nil {
					panic("admitted")
				}
			}
		})
	})
	b.Run("gobreaker-twostep", func(b *testing.B) {
		cb := gbOpenTwoStep(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Allow(); err == nil {
					panic("admitted")
				}
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsExecutor(fsOpenBreaker(b))
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := exec.Get(ok); err == nil {
					panic("admitted")
				}
			}
		})
	})
	b.Run("failsafe-permit", func(b *testing.B) {
		cb := fsOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if cb.TryAcquirePermit() {
					panic("admitted")
				}
			}
		})
	})
	b.Run("mercari", func(b *testing.B) {
		cb := mcOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Do(ctx, mcOK); err == nil {
					panic("admitted")
				}
			}
		})
	})
	b.Run("mercari-twostep", func(b *testing.B) {
		cb := mcOpenBreaker(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if cb.Ready() {
					panic("admitted")
				}
			}
		})
	})
	b.Run("cep21", func(b *testing.B) {
		c := cepOpenCircuit(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Execute(ctx, cepOK, nil); err == nil {
					panic("admitted")
				}
			}
		})
	})
}

func BenchmarkOpenGuard(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbOpenGuard(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(ctx, g, okCtx); err == nil {
				b.Fatal("admitted")
			}
		}
	})
}

func BenchmarkOpenGuardParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbOpenGuard(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := core.Do(ctx, g, okCtx); err == nil {
					panic("admitted")
				}
			}
		})
	})
}
