package graphql_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
	"github.com/breakerbox/breakerbox/shed"
)

// shedderAtNinetyPercent returns a shedder whose last interval (an hour
// long, ended a second ago) saw 90 sheddable and 10 critical operations and
// a standing queue that served 10: it sheds every sheddable operation and
// no other until the end of the test.
func shedderAtNinetyPercent(t *testing.T) *shed.Shedder {
	t.Helper()
	s, err := shed.New(shed.Config{Interval: time.Hour, RetryAfter: 2500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour - time.Second)
	for i := range 100 {
		if i < 90 {
			_ = s.AllowAt(past, shed.Sheddable)
		} else {
			_ = s.AllowAt(past, shed.Critical)
			s.ObserveAt(past, 50*time.Millisecond)
		}
	}
	return s
}

func TestShedLoadByCriticality(t *testing.T) {
	var mu sync.Mutex
	var rejected []error
	ops := bbgraphql.Operations(
		bbgraphql.ShedLoad(shedderAtNinetyPercent(t), bbgraphql.OperationCriticality(
			map[string]shed.Criticality{"Prefetch": shed.Sheddable}, nil)),
		bbgraphql.OnReject(func(_ context.Context, err error) {
			mu.Lock()
			rejected = append(rejected, err)
			mu.Unlock()
		}),
	)
	s := newTestServer(t, newRegistry(t), &testserver.Resolver{}, nil, ops)

	for _, h := range [][]string{{bbgraphql.CriticalityHeaderName, "critical"}, {bbgraphql.CriticalityHeaderName, "default"}, nil} {
		if r := s.query(t, `{ hello }`, h...); len(r.Errors) != 0 {
			t.Fatalf("operation with %v: %v", h, r.Errors)
		}
	}
	if r := s.query(t, `query Other { hello }`); len(r.Errors) != 0 {
		t.Fatalf("operation Other: %v", r.Errors)
	}
	for name, r := range map[string]gqlResponse{
		"sheddable header":   s.query(t, `{ hello }`, bbgraphql.CriticalityHeaderName, "sheddable"),
		"operation Prefetch": s.query(t, `query Prefetch { hello }`, bbgraphql.CriticalityHeaderName, "critical"),
	} {
		if len(r.Errors) != 1 || string(r.Data) != "null" {
			t.Fatalf("%s: data %s errors %v; want null data and one error", name, r.Data, r.Errors)
		}
		ext := r.Errors[0].Extensions
		if ext["code"] != bbgraphql.CodeLoadShed || ext["retryAfter"] != float64(3) {
			t.Errorf("%s: extensions %v, want code LOAD_SHED, retryAfter 3", name, ext)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rejected) != 2 || !errors.Is(rejected[0], core.ErrRejected) || !errors.Is(rejected[0], shed.ErrShed) {
		t.Fatalf("OnReject saw %v", rejected)
	}
	if d, ok := core.RetryAfter(rejected[0]); !ok || d != 2500*time.Millisecond {
		t.Errorf("retry-after %v, want 2.5s", d)
	}
}

func TestShedLoadHoldsASlotUntilTheResponse(t *testing.T) {
	s, err := shed.New(shed.Config{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, newRegistry(t), &testserver.Resolver{}, nil, bbgraphql.Operations(bbgraphql.ShedLoad(s, nil)))
	for range 3 {
		if r := srv.query(t, `{ hello }`); len(r.Errors) != 0 {
			t.Fatalf("sequential operations with one slot: %v", r.Errors)
		}
	}
	if snap := s.Snapshot(); snap.InFlight != 0 || snap.Admitted[shed.Default] != 3 {
		t.Errorf("after the operations: %+v", snap)
	}
}

func TestDefaultCriticalityPrefersTheContext(t *testing.T) {
	ctx := shed.NewContext(context.Background(), shed.Critical)
	if c := bbgraphql.DefaultCriticality(ctx, nil); c != shed.Critical {
		t.Errorf("criticality from the context: %v", c)
	}
	if c := bbgraphql.DefaultCriticality(context.Background(), nil); c != shed.Default {
		t.Errorf("without anything: %v", c)
	}
}
