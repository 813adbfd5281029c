// Package bulkhead limits how many calls run at once, with a bounded,
// context-aware FIFO queue for the callers that find every slot busy.
//
// A bulkhead keeps one slow dependency from tying up every goroutine (and
// every connection) of a service: at most MaxConcurrent calls run; up to
// MaxQueue more wait, each for at most MaxWait or until its context ends;
// anyone beyond that is rejected at once with ErrFull, which matches
// core.ErrRejected.
//
//	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 10, MaxQueue: 20, MaxWait: 50 * time.Millisecond})
//	...
//	if err := b.Acquire(ctx); err != nil {
//		return err // ErrFull, or ctx.Err()
//	}
//	defer b.Release()
//
// # Cost
//
// Admission and release are one atomic operation each while nobody is
// queued: no lock, no clock read, no timer, no allocation. Rejection of a
// full queue is lock-free and allocation-free too. Only a caller that has to
// wait takes the mutex, allocates its queue entry, reads the clock (for
// Snapshot.WaitTime) and, when MaxWait is set, starts a timer.
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
