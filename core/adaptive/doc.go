// Package adaptive computes concurrency limits that follow a dependency's
// capacity instead of a fixed number.
//
// An Algorithm takes samples of completed calls (when the call ended, its
// round-trip time, the calls in flight, whether it was dropped) and returns
// a limit. Three are provided:
//
//   - Gradient2 compares a short-term with a long-term average RTT and
//     shrinks the limit as the short one rises above the long one (Netflix's
//     Gradient2); the long one, the no-load baseline, holds while the
//     latency is above it, so that a sustained overload keeps the limit
//     down, and is measured again at the lowest limit now and then.
//   - Vegas estimates the queue at the dependency from the RTT against a
//     no-load baseline and keeps it between two thresholds (TCP Vegas).
//   - AIMD adds to the limit while calls succeed and multiplies it down on
//     failures and timeouts (TCP Reno).
//
// Every algorithm keeps its limit within Bounds (Min, Max; it starts at
// Initial) whatever it is fed: zero or negative latencies, huge ones, a
// clock that steps back. Time is explicit (the now argument), so a test or
// a simulation drives an algorithm without a clock.
//
// An Algorithm is a plain state machine, not safe for concurrent use. A
// Limiter feeds one from many goroutines: Record adds a sample to a window
// with a few atomic additions and no lock, and the call that closes the
// window (after Window.Samples samples, or once Window.Interval has passed)
// hands it to the algorithm and reports the new limit, which the caller
// applies (core's adaptive bulkhead calls bulkhead.SetLimit). So the limit
// is recomputed once per window, off the common path:
//
//	alg, err := adaptive.NewAIMD(adaptive.AIMDConfig{
//		Bounds:  adaptive.Bounds{Min: 2, Max: 50, Initial: 10},
//		Backoff: 0.5,
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	lim, err := adaptive.NewLimiter(alg, adaptive.Window{Samples: 4})
//	if err != nil {
//		log.Fatal(err)
//	}
//
//	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
//	for i := range 8 { // two windows of successful calls: +1 each
//		lim.Record(start.Add(time.Duration(i)*time.Millisecond), 20*time.Millisecond, 10, false)
//	}
//	fmt.Println(lim.Limit())
//	for i := range 4 { // a window with a failure: halved
//		lim.Record(start.Add(time.Second), 20*time.Millisecond, 12, i == 0)
//	}
//	fmt.Println(lim.Limit())
package adaptive
