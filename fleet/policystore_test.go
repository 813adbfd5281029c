package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/policy"
)

func policyRec(hash string) policy.Record {
	return policy.Record{Hash: hash, Document: []byte(`{"policies":[]}`), Source: "test"}
}

func TestPolicyStoreNumbersVersionsAndReadsThemBack(t *testing.T) {
	ctx := context.Background()
	ps := fleet.NewPolicyStore(fleet.NewMemoryStore())
	if _, ok, err := ps.Latest(ctx); ok || err != nil {
		t.Fatalf("Latest of an empty store = %v, %v; want none", ok, err)
	}
	if _, err := ps.Append(ctx, policy.Record{Hash: "h"}); err == nil {
		t.Fatal("Append accepted a record without a document")
	}
	for i := 1; i <= 3; i++ {
		rec, err := ps.Append(ctx, policyRec(fmt.Sprint("h", i)))
		if err != nil || rec.Version != uint64(i) || rec.At.IsZero() {
			t.Fatalf("Append %d = %+v, %v", i, rec, err)
		}
	}
	if _, err := ps.Get(ctx, 9); !errors.Is(err, policy.ErrNoVersion) {
		t.Fatalf("Get(9) = %v, want ErrNoVersion", err)
	}
	recs, err := ps.List(ctx, 2)
	if err != nil || len(recs) != 2 || recs[0].Version != 3 || recs[1].Version != 2 {
		t.Fatalf("List(2) = %+v, %v; want versions 3, 2", recs, err)
	}
	last, ok, err := ps.Latest(ctx)
	if err != nil || !ok || last.Version != 3 || last.Hash != "h3" {
		t.Fatalf("Latest = %+v, %v, %v", last, ok, err)
	}
}

// TestPolicyStoreConcurrentAppendsNeverShareANumber: eight replicas (each
// its own client of one store) append at once; every version is numbered
// once, with no gaps.
func TestPolicyStoreConcurrentAppendsNeverShareANumber(t *testing.T) {
	ctx := context.Background()
	ms := fleet.NewMemoryStore()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []uint64
	for r := range 8 {
		ps := fleet.NewPolicyStore(ms.Client())
		wg.Go(func() {
			for i := range 10 {
				rec, err := ps.Append(ctx, policyRec(fmt.Sprintf("r%d-%d", r, i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, rec.Version)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	for i, v := range got {
		if v != uint64(i+1) {
			t.Fatalf("versions %v: want 1..80, each once", got)
		}
	}
}

// TestPolicyStoreLatestWalksPastALaggingPointer: a writer that stopped
// between creating a version and moving the pointer leaves the pointer
// behind; readers and the next writer still see the version.
func TestPolicyStoreLatestWalksPastALaggingPointer(t *testing.T) {
	ctx := context.Background()
	ms := fleet.NewMemoryStore()
	ps := fleet.NewPolicyStore(ms)
	if _, err := ps.Append(ctx, policyRec("h1")); err != nil {
		t.Fatal(err)
	}
	raw, err := fleet.Encode(fleet.KindPolicy, policy.Record{Version: 2, Hash: "h2", Document: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if created, _, err := ms.Create(ctx, fleet.KindPolicy, "v2", raw, 0); !created || err != nil {
		t.Fatalf("Create v2 = %v, %v", created, err)
	}
	if rec, ok, err := ps.Latest(ctx); !ok || err != nil || rec.Version != 2 {
		t.Fatalf("Latest = %+v, %v, %v; want version 2", rec, ok, err)
	}
	if rec, err := ps.Append(ctx, policyRec("h3")); err != nil || rec.Version != 3 {
		t.Fatalf("Append = %+v, %v; want version 3", rec, err)
	}
}

func TestPolicyStoreRefusesForeignValues(t *testing.T) {
	ctx := context.Background()
	ms := fleet.NewMemoryStore()
	if _, _, err := ms.Create(ctx, fleet.KindPolicy, "v1", []byte("not json"), 0); err != nil {
		t.Fatal(err)
	}
	ps := fleet.NewPolicyStore(ms)
	if _, err := ps.Get(ctx, 1); err == nil {
		t.Fatal("Get of a malformed version succeeded")
	}
	if _, _, err := ps.Latest(ctx); err == nil {
		t.Fatal("Latest of a malformed version succeeded")
	}
}

// TestFleetRunsOnePolicyVersion: three replicas, each with its own registry
// and policy.Manager on the fleet's PolicyStore, follow it; a document
// applied on one becomes live on the others at the same version, and a
// replica that joins later starts on it.
func TestFleetRunsOnePolicyVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ms := fleet.NewMemoryStore()
		type replica struct {
			reg *core.Registry
			m   *policy.Manager
		}
		var reps []replica
		var wg sync.WaitGroup
		join := func() replica {
			reg, err := core.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			ps := fleet.NewPolicyStore(ms.Client())
			m, err := policy.NewManager(ctx, reg, ps)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() { _ = ps.Follow(ctx, m, time.Minute, func(err error) { t.Error(err) }) })
			return replica{reg, m}
		}
		for range 3 {
			reps = append(reps, join())
		}
		doc := func(failures int) core.Document {
			return core.Document{Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: failures}}}}
		}
		for i, failures := range []int{5, 7} {
			res, err := reps[i].m.Apply(ctx, doc(failures), policy.Meta{Actor: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			for j, r := range reps {
				if v, h := r.reg.PolicyVersion(); v != res.Record.Version || h != res.Record.Hash {
					t.Fatalf("after version %d: replica %d runs version %d (%s)", res.Record.Version, j, v, h)
				}
				p, err := r.reg.Policy("payments")
				if err != nil || p.Breaker.ConsecutiveFailures != failures {
					t.Fatalf("replica %d: payments = %+v, %v", j, p.Breaker, err)
				}
			}
		}
		late := join()
		synctest.Wait()
		if v, _ := late.reg.PolicyVersion(); v != 2 {
			t.Fatalf("a replica joining later runs version %d, want 2", v)
		}
		cancel()
		wg.Wait()
	})
}
