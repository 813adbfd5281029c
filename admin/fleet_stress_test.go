package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
)

// oddName is a guard name with literal slashes, a space, an escaped slash,
// braces and unicode.
const oddName = "inventory/a b%2F{x}/ü"

// TestFleetAndMachinesUnderThousandsOfReaders: 2,000 concurrent readers of
// GET /v1/fleet and GET /v1/machines against a real server while
// operators move a machine (by an odd name, escaped in the path) and act
// on the fleet: every answer is 200 and decodes, the run ends in bounded
// time, and the heap does not grow with the readers (-race checks the
// rest).
func TestFleetAndMachinesUnderThousandsOfReaders(t *testing.T) {
	readers := 2000
	if testing.Short() {
		readers = 200
	}
	store := fleet.NewMemoryStore()
	reg := testRegistry(t)
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{machinePolicy("inventory", "inventory**")}}); err != nil {
		t.Fatal(err)
	}
	reg.MustGuard(oddName)
	reg.MustGuard("inventory.read")
	ag, err := fleet.Join(reg, store.Client(), fleet.WithReplicaID("replica-a"), fleet.WithHeartbeat(50*time.Millisecond), fleet.WithReconcileEvery(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	a := newTestAPIFor(t, reg, WithFleet(ag))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: readers, MaxConnsPerHost: 256}}
	t.Cleanup(client.CloseIdleConnections)

	get := func(path string) error {
		req, _ := http.NewRequest(http.MethodGet, a.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+readSecret)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d %s", path, res.StatusCode, body)
		}
		var v map[string]any
		return json.Unmarshal(body, &v)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	stop := make(chan struct{})
	var writers sync.WaitGroup
	var moves atomic.Int64
	writers.Add(1)
	go func() { // operators: machine moves and fleet actions, by the odd name
		defer writers.Done()
		states := []string{"maintenance", "healthy", "degraded"}
		actions := []fleet.Action{fleet.ActionForceOpen, fleet.ActionRelease}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := a.do(http.MethodPost, "/v1/machines/"+url.PathEscape(oddName)+"/state", aliceSecret, MachineStateRequest{State: states[i%3], Reason: "stress"})
			if r.status != http.StatusOK {
				t.Errorf("POST machine state of %q: %d %s", oddName, r.status, r.body)
				return
			}
			r = a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "name:" + oddName, Action: actions[i%2], Reason: "stress"})
			if r.status != http.StatusOK {
				t.Errorf("POST fleet action on %q: %d %s", oddName, r.status, r.body)
				return
			}
			moves.Add(1)
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := []string{"/v1/fleet", "/v1/machines", "/v1/machines?guard=" + url.QueryEscape(oddName)}[i%3]
			if err := get(path); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	writers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
		break
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d readers in %v alongside %d operator moves; heap grew by %d KiB", readers, took, moves.Load(), grown>>10)
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MiB after %d readers", grown>>20, readers)
	}
	// The moves reached the odd guard, which the report names as is.
	var l MachineList
	a.do(http.MethodGet, "/v1/machines?guard="+url.QueryEscape(oddName), readSecret, nil).ok(t, &l)
	if len(l.Machines) != 1 || l.Machines[0].Guard != oddName || l.Machines[0].Status.Transitions == 0 {
		t.Fatalf("machine of %q: %+v", oddName, l.Machines)
	}
}

// TestFleetActionSceptic: bad fleet actions are refused with 400 naming
// the field, and nothing is stored: an unknown action, an empty reason, a
// reason of 1 MiB (413 or 400), an empty target, a tag with no name.
func TestFleetActionSceptic(t *testing.T) {
	store := fleet.NewMemoryStore()
	reg := testRegistry(t)
	ag, err := fleet.Join(reg, store.Client(), fleet.WithReplicaID("replica-a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	a := newTestAPIFor(t, reg, WithFleet(ag))
	for _, tc := range []struct {
		req   FleetActionRequest
		field string
	}{
		{FleetActionRequest{Target: "payments.refund", Action: "explode", Reason: "x"}, "action"},
		{FleetActionRequest{Target: "payments.refund", Action: fleet.ActionForceOpen, Reason: ""}, "reason"},
		{FleetActionRequest{Target: "payments.refund", Action: fleet.ActionForceOpen, Reason: "   "}, "reason"},
		{FleetActionRequest{Target: "payments.refund", Action: fleet.ActionForceOpen, Reason: strings.Repeat("r", 1<<20)}, ""},
		{FleetActionRequest{Target: "", Action: fleet.ActionForceOpen, Reason: "x"}, "target"},
		{FleetActionRequest{Target: "tag:", Action: fleet.ActionForceOpen, Reason: "x"}, "target"},
		{FleetActionRequest{Target: "a\nb", Action: fleet.ActionForceOpen, Reason: "x"}, "target"},
	} {
		r := a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, tc.req)
		if r.status != http.StatusBadRequest && !(tc.field == "" && r.status == http.StatusRequestEntityTooLarge) {
			t.Errorf("%.80v: status %d, want 400; body %.300s", tc.req, r.status, r.body)
			continue
		}
		if tc.field != "" && !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%.80v: body %.300s does not name %s", tc.req, r.body, tc.field)
		}
	}
	if es, err := store.List(context.Background(), fleet.KindOverride); err != nil || len(es) != 0 {
		t.Fatalf("refused actions stored %d overrides (%v)", len(es), err)
	}
	// A target that matches no guard is stored (it applies to guards
	// created later, on every replica): documented, not refused.
	var res FleetActionResult
	a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "name:no/such guard", Action: fleet.ActionForceOpen, Reason: "x"}).ok(t, &res)
	if res.Override.Target != "no/such guard" { // stored without the prefix it does not need
		t.Fatalf("stored %+v", res.Override)
	}
}
