package core

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadDocument is the v-th document of the reload tests: policies for
// 1,000 guards named "a.0".."a.499" and "b.0".."b.499", whose breakers,
// bulkheads, rate limits, retries, timeouts and tags change from one
// version to the next, with limits no call of the tests reaches. Every
// seventh document is invalid.
func loadDocument(v int) (doc Document, valid bool) {
	base := Policy{Name: "base", Breaker: &BreakerPolicy{WindowSize: 50 + 50*(v%2), MinCalls: 20, FailureRate: float64(30 + v%50)}}
	if v%3 == 0 {
		base.Breaker = &BreakerPolicy{Window: "time", WindowDuration: Duration(time.Minute), Buckets: 6 + v%4}
	}
	a := Policy{Name: "group-a", Extends: "base", Match: []string{"a.*"}}
	if v%2 == 1 {
		a.Bulkhead = &BulkheadPolicy{MaxConcurrent: 32 + v}
	}
	if v%4 >= 2 {
		algo := []string{"token_bucket", "gcra"}[v%8/4]
		a.RateLimit = &RateLimitPolicy{Algorithm: algo, Limit: 1e9}
	}
	b := Policy{Name: "group-b", Extends: "base", Match: []string{"b.*"}, Tags: []string{"v" + strconv.Itoa(v%5)}}
	if v%5 < 2 {
		b.Retry = &RetryPolicy{MaxAttempts: 2, InitialDelay: Duration(time.Millisecond)}
		b.Timeout = Duration(time.Minute)
	}
	own := Policy{Name: "a.7", Extends: "group-a", Bulkhead: &BulkheadPolicy{MaxConcurrent: 17 + v%3}, Critical: v%2 == 0}
	doc.Policies = []Policy{base, a, b, own, {Name: DefaultPolicyName, Extends: "base"}}
	if v%7 == 3 {
		bad := []Policy{
			{Name: "bad", Breaker: &BreakerPolicy{FailureRate: 150}},
			{Name: "bad", Extends: "nobody"},
			{Name: "group-a"},
		}[v%3]
		doc.Policies = append(doc.Policies, bad)
		return doc, false
	}
	return doc, true
}

func mustPolicy(t testing.TB, r *Registry, name string) Policy {
	t.Helper()
	p, err := r.Policy(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 19: 16 goroutines call through 1,000 guards while 100 documents
// (some invalid) are applied: no call fails or waits for a reload, the
// counters add up to the calls made, and the live version is always one of
// the valid documents.
func TestReloadUnderLoadDropsNoCall(t *testing.T) {
	const guards, workers, docs = 1000, 16, 100
	r := mustRegistry(t)
	first, _ := loadDocument(0)
	if _, err := r.Apply(first); err != nil {
		t.Fatal(err)
	}
	names := make([]string, guards)
	for i := range names {
		names[i] = fmt.Sprintf("%c.%d", "ab"[i%2], i/2)
		if i%2 == 0 { // half exist before the reloads, half are made during them
			mustGuard(t, r, names[i])
		}
	}
	valid := map[string]bool{first.Hash(): true}
	for v := 1; v <= docs; v++ {
		if d, ok := loadDocument(v); ok {
			valid[d.Hash()] = true
		}
	}

	// The calls of round k run while document k is applied: each worker
	// makes a batch of calls, then waits for the next round to start.
	const batch = 32
	rounds := make([]chan struct{}, docs+1)
	for i := range rounds {
		rounds[i] = make(chan struct{})
	}
	var calls atomic.Uint64
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := uint64(0)
			defer func() { calls.Add(n) }()
			k := w
			for round := range rounds {
				for range batch {
					k += 7
					g, err := r.Guard(names[k%guards])
					if err != nil {
						t.Error(err)
						return
					}
					if w%2 == 0 {
						_, err = Do(ctx, g, func(context.Context) (int, error) { return 1, nil })
					} else { // the adapters' path
						var p Permit
						if p, err = g.Allow(ctx); err == nil {
							p.Done(nil)
						}
					}
					n++
					if err != nil {
						t.Errorf("call %d through %s: %v", n, g.Name(), err)
						return
					}
					if n%8 == 0 { // the live version is always a valid document's
						if v, h := r.PolicyVersion(); !valid[h] {
							t.Errorf("live version %d %s", v, h)
							return
						}
					}
				}
				<-rounds[round]
			}
		}()
	}

	applied := 1
	for v := 1; v <= docs; v++ {
		close(rounds[v-1])
		doc, ok := loadDocument(v)
		_, err := r.Apply(doc)
		if (err == nil) != ok {
			t.Errorf("document %d (valid %v): %v", v, ok, err)
		}
		if err == nil {
			applied++
		}
	}
	close(rounds[docs])
	wg.Wait()

	if v, _ := r.PolicyVersion(); v != uint64(applied) {
		t.Errorf("version %d after %d applied documents", v, applied)
	}
	var admitted, succeeded, other uint64
	for _, s := range r.Snapshot() {
		admitted += s.Breaker.Admitted
		succeeded += s.Breaker.Succeeded
		other += s.Breaker.Failed + s.Breaker.Ignored + s.Rejected.Total()
	}
	if n := calls.Load(); admitted != n || succeeded != n || other != 0 {
		t.Errorf("%d calls made; the guards recorded %d admitted, %d succeeded, %d failed, ignored or rejected", n, admitted, succeeded, other)
	}
	// Every guard runs the last valid document's policies.
	last, _ := loadDocument(docs)
	if _, ok := valid[last.Hash()]; ok {
		g, _ := r.Lookup("a.7")
		if gp, want := g.Policy(), mustPolicy(t, r, "a.7"); !samePolicyValue(&gp, &want) {
			t.Errorf("a.7 runs %+v, want %+v", g.Policy(), want)
		}
	}
}
