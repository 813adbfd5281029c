package admin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// TestConcurrentOperations runs operations from several clients at once,
// with readers and guarded calls alongside, and then checks that the audit
// log holds every operation once, numbered without gaps, and that the
// records chain: each record's "before" of a guard is the previous
// record's "after" of it (operations are applied one at a time).
func TestConcurrentOperations(t *testing.T) {
	a := newTestAPI(t)
	const workers, perWorker = 6, 15
	names := []string{"payments.charge", "payments.refund", "search", "GET /users/{id}"}
	ops := []Op{OpOpen, OpClose, OpDisable, OpMetricsOnly, OpReset, OpRelease}

	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	// Successful calls only, so that no automatic transition happens
	// between operations.
	bg.Add(1)
	go func() {
		defer bg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			g := a.reg.MustGuard(names[i%len(names)])
			if p, err := g.Allow(ctx); err == nil {
				p.Done(nil)
			}
		}
	}()
	bg.Add(1)
	go func() {
		defer bg.Done()
		for _, path := range []string{"/v1/guards", "/v1/snapshot", "/v1/audit", "/health", "/debug", "/v1/guards/search"} {
			if ctx.Err() != nil {
				return
			}
			if r := a.do(http.MethodGet, path, readSecret, nil); r.status != 200 && r.status != 503 {
				t.Errorf("%s: %d", path, r.status)
			}
		}
	}()

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			secret := aliceSecret
			if w%2 == 1 {
				secret = bobSecret
			}
			for i := 0; i < perWorker; i++ {
				req := OperationRequest{Reason: fmt.Sprintf("worker %d op %d", w, i)}
				switch rng.IntN(5) {
				case 0:
					req.Tag = "stripe"
				case 1:
					req.All = true
				default:
					req.Name = names[rng.IntN(len(names))]
				}
				op := ops[rng.IntN(len(ops))]
				if op == OpOpen && rng.IntN(2) == 0 {
					req.Duration = core.Duration(time.Hour)
				}
				if r := a.op(op, secret, req); r.status != 200 {
					t.Errorf("%s %+v: %d %s", op, req, r.status, r.body)
				}
			}
		}(w)
	}
	wg.Wait()
	cancel()
	bg.Wait()

	var recs []AuditRecord
	for after := uint64(0); ; {
		p := a.audit(fmt.Sprintf("?after=%d&limit=7", after))
		recs = append(recs, p.Records...)
		if !p.More {
			break
		}
		after = p.Next
	}
	if len(recs) != workers*perWorker {
		t.Fatalf("%d audit records, want %d", len(recs), workers*perWorker)
	}
	last := map[string]GuardState{}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Fatalf("record %d is older than record %d", r.Seq, recs[i-1].Seq)
		}
		if r.Actor != "alice" && r.Actor != "bob" || r.Reason == "" || len(r.Before) == 0 || len(r.Before) != len(r.After) {
			t.Fatalf("incomplete record %+v", r)
		}
		for j, b := range r.Before {
			if prev, ok := last[b.Guard]; ok && !sameState(prev, b) {
				t.Fatalf("record %d: %s before %+v, but the previous record left it %+v", r.Seq, b.Guard, b, prev)
			}
			last[b.Guard] = r.After[j]
		}
	}
	for _, n := range names {
		if got := stateOf(a.reg.MustGuard(n)); !sameState(got, last[n]) {
			t.Errorf("%s is %+v, the last record says %+v", n, got, last[n])
		}
	}
}
