// Package bulkhead limits how many calls run at once, with a bounded,
// context-aware FIFO queue for the callers that find every slot busy.
//
// A bulkhead keeps one slow dependency from tying up every goroutine (and
// every connection) of a service: at most MaxConcurrent calls run; up to
// MaxQueue more wait, each for at most MaxWait or until its context ends;
// anyone beyond that is rejected at once with ErrFull, which matches
// core.ErrRejected.
//
//	// At most 2 calls at once; 4 more may wait up to 50ms each.
//	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 2, MaxQueue: 4, MaxWait: 50 * time.Millisecond})
//	if err != nil {
//		log.Fatal(err)
//	}
//
//	call := func(ctx context.Context) error {
//		if err := b.Acquire(ctx); err != nil {
//			return err // bulkhead.ErrFull, or ctx.Err()
//		}
//		defer b.Release()
//		// ... call the dependency ...
//		return nil
//	}
//
// # Cost
//
// Admission and release are one atomic operation each while nobody is
// queued: no lock, no clock read, no timer, no allocation. Rejection of a
// full queue is lock-free and allocation-free too. Only a caller that has to
// wait takes the mutex, allocates its queue entry, reads the clock (for
// Snapshot.WaitTime) and, when MaxWait is set, starts a timer.
//
// # Large bulkheads on many cores
//
// A bulkhead with MaxConcurrent below 256 keeps its count in one word,
// which every acquire and release writes. When goroutines on several cores
// take and give back slots at full speed, that word's cache line travels
// between the cores on every call, and the bulkhead costs about as much as
// a mutex-guarded counter.
//
// A bulkhead with MaxConcurrent of 256 or more therefore keeps some free
// slots in 16 stripes, one cache line each, picked by the calling
// goroutine's stack address (so roughly per CPU). An acquire takes a slot
// from its stripe, borrowing a batch of up to 8 from the shared count when
// the stripe is empty; a release puts the slot back in its stripe. The
// shared count includes the slots held in stripes, so the limit is never
// exceeded, and at most MaxConcurrent/8 slots sit in stripes. On two cores
// this makes a contended acquire and release about five times cheaper
// (benchmarks/README.md).
//
// The stripe is picked from the stack address at each call, so an acquire
// and a release made at different call depths may use different stripes,
// which costs a trip to the shared count now and then. A caller that
// acquires in one function and releases in another takes one Hint
// (NewHint) and passes it to AcquireHint and ReleaseHint; core's guards do.
//
// The striping is invisible in use: before a call is rejected or queued,
// every stripe's free slots are taken back, so a call is not refused while
// a slot is free; while anyone is queued, a released slot is handed to the
// oldest waiter as in a small bulkhead; Snapshot.InUse counts only slots
// held by calls; lowering the limit with SetLimit takes the stripes' slots
// back. What differs is the cost at the edges: a rejection, or a release
// while callers are queued, reads (and if needed empties) all 16 stripes,
// and a Release without a matching acquire may go unnoticed (see Release).
//
// # Fairness
//
// Slots go to waiters in arrival order. While anyone is queued, TryAcquire
// fails and Acquire queues, even at the moment a slot frees up: the freed
// slot is handed directly to the oldest waiter, so newcomers cannot barge
// past callers that have been waiting.
//
// # Leaving the queue
//
// A waiter whose context ends or whose MaxWait passes leaves the queue and
// frees its place for another caller. If a slot was handed to it at the
// same moment, it passes that slot on instead of keeping it, so no slot is
// ever leaked.
//
// # Metrics
//
// Counters are cumulative and read with Snapshot, so that metrics cost
// nothing per call (the fast path writes no counter). Snapshot.InUse and
// MaxConcurrent give the usage and limit gauges, Rejected, TimedOut and
// Canceled the refused calls by reason, and WaitTime/Waited the mean queue
// wait.
package bulkhead
