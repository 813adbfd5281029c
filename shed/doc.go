// Package shed is server load shedding with priorities: it decides, per
// request, whether a server takes the request or turns it away, from the
// server's queue delay (CoDel-style), its CPU use, or both, and from the
// request's criticality, so that sheddable traffic absorbs an overload and
// critical traffic is shed last.
//
//	s, err := shed.New(shed.Config{MaxInFlight: 64, MaxQueue: 256})
//	if err != nil {
//		log.Fatal(err)
//	}
//	handle := func(ctx context.Context) error {
//		t, err := s.Acquire(ctx, shed.Critical)
//		if err != nil {
//			return err // a *shed.Rejection (errors.Is(err, shed.ErrShed)), or ctx.Err()
//		}
//		defer t.Done()
//		// ... serve the request ...
//		return nil
//	}
//
// The adapters use a Shedder with one option each: httpmw.WithShedder
// (criticality from a header), grpcmw.WithShedder (from metadata) and
// graphql.WithShedder (from the operation). A shed request is answered as
// the adapter answers any rejection: 503 with Retry-After, or gRPC
// Unavailable with a pushback.
//
// # The signals
//
// Queue delay: a request that waits for a slot (Config.MaxInFlight,
// Config.MaxQueue) reports its wait; a server that owns its own queue
// reports waits with ObserveAt. As in CoDel, what counts is the smallest
// delay of an interval: a burst that drains within Interval is no overload,
// a standing queue whose every request waited more than Target is.
//
// CPU use: with Config.CPULimit, an interval in which the process used more
// than that share of its CPUs is an overloaded one. The CPU time comes from
// /proc/self/stat (ProcessCPUTime) or from Config.CPU.
//
// # Explicit time
//
// AllowAt and ObserveAt take the time, so tests and simulations drive a
// shedder through virtual time; there is no background goroutine, and the
// decisions use no randomness: the same calls give the same answers. Acquire
// reads the clock and waits with a timer, and is tested with
// testing/synctest.
//
// # Cost
//
// A decision is a few atomic operations; the first
// call after an interval ends takes the mutex to close it (and, with the CPU
// signal, reads the CPU time). Acquire with a free slot takes the mutex once;
// shedding allocates nothing.
package shed
