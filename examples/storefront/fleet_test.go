package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

func TestParseFleetFlag(t *testing.T) {
	for args, want := range map[string]fleetFlag{
		"":                        0,
		"-fleet":                  3,
		"-fleet=5":                5,
		"-fleet 4 -load 0":        4,
		"-fleet -load 0":          3,
		"-load 0 -fleet=2":        2,
		"-fleet=false":            0,
		"-fleet 9 -tour=false":    9,
		"-fleet=3 -ops-port 9100": 3,
	} {
		c, err := parseFlags(strings.Fields(args), io.Discard)
		if err != nil || c.fleet != want {
			t.Errorf("parseFlags(%q): fleet %v, %v; want %d", args, c, err, want)
		}
	}
	for _, args := range []string{"-fleet=1", "-fleet=10", "-fleet=x", "-fleet 12"} {
		if _, err := parseFlags(strings.Fields(args), io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

// startFleet runs the demo's fleet mode with args on free ports and
// returns its addresses once everything listens; it stops the demo when
// the test ends and fails the test if the demo does not stop cleanly.
func startFleet(t *testing.T, args ...string) FleetAddresses {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	args = append([]string{"-fakes-port=0", "-ops-port=0", "-ready-file=" + ready}, args...)
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var log lockedBuffer
	say := func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	done := make(chan int, 1)
	go func() { done <- serve(ctx, stop, cfg, io.Discard, &log, say) }()
	t.Cleanup(func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("the fleet demo stopped with status %d", code)
		}
		if t.Failed() {
			t.Logf("the fleet demo's output:\n%s", log.String())
		}
	})
	var addrs FleetAddresses
	waitFor(t, time.Minute, "the ready file", func() error {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("the fleet demo stopped before it was ready, with status %d", code)
		default:
		}
		b, err := os.ReadFile(ready)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &addrs)
	})
	return addrs
}

// getJSON decodes the JSON answer of GET url into v.
func getJSON(url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// paymentsOf is the payments guard as a replica's admin API shows it.
func paymentsOf(t *testing.T, r ReplicaAddresses) admin.GuardStatus {
	t.Helper()
	var g admin.GuardStatus
	if err := getJSON(r.Admin+"/v1/guards/payments", &g); err != nil {
		t.Fatalf("%s: %v", r.ID, err)
	}
	return g
}

// TestFleetQuorum runs the fleet demo with three replicas over its
// embedded NATS server, takes payments down, and sends checkouts to the
// first two replicas only. Their breakers open on their own failures and
// vote; the third replica, which never called payments, opens too: a
// quorum of two replicas holds open votes. Each replica's state is read
// from its own registry, through its admin API, over HTTP. Then an
// operator forces payments open through the first replica's admin API,
// and the third applies it.
func TestFleetQuorum(t *testing.T) {
	addrs := startFleet(t, "-fleet=3", "-load=0", "-tour=false", "-report=0", "-open-duration=2m")
	if addrs.NATS == "" || addrs.Redis != "" {
		t.Errorf("store: NATS %q, Redis %q; want the embedded NATS server", addrs.NATS, addrs.Redis)
	}
	checkFleetQuorum(t, addrs)
	checkFleetAction(t, addrs)
}

// checkFleetQuorum is TestFleetQuorum's scenario on a running fleet demo
// of three replicas, whatever its store.
func checkFleetQuorum(t *testing.T, addrs FleetAddresses) {
	t.Helper()
	if len(addrs.Replicas) != 3 {
		t.Fatalf("%d replicas, want 3", len(addrs.Replicas))
	}
	busy, quiet := addrs.Replicas[:2], addrs.Replicas[2]

	// Every replica joins the fleet: each one's view lists the three.
	for _, r := range addrs.Replicas {
		waitFor(t, time.Minute, r.ID+" sees the three members", func() error {
			var s fleet.Snapshot
			if err := getJSON(r.Fleet, &s); err != nil {
				return err
			}
			if len(s.Members) != 3 {
				return fmt.Errorf("members %+v", s.Members)
			}
			return nil
		})
	}

	// The fleet's page lists every replica's dashboard.
	page, err := client.Get(addrs.Ops + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	for _, r := range addrs.Replicas {
		if page.StatusCode != http.StatusOK || !strings.Contains(string(body), r.Admin+"/") {
			t.Errorf("the fleet page (%s) does not link %s's dashboard %s/", page.Status, r.ID, r.Admin)
		}
	}

	resp, err := client.Post(addrs.Ops+"/control/faults/payments", "application/json", strings.NewReader(`{"outage":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /control/faults/payments: %s", resp.Status)
	}

	for _, r := range busy {
		waitFor(t, time.Minute, r.ID+"'s payments breaker opening on its own failures", func() error {
			if _, err := checkout(context.Background(), client, r.API); err != nil {
				return err
			}
			if g := paymentsOf(t, r); g.State.String() != "open" {
				return fmt.Errorf("state %s, window %+v", g.State, g.Window)
			}
			return nil
		})
	}
	waitFor(t, time.Minute, quiet.ID+"'s payments breaker adopting the fleet's verdict", func() error {
		if g := paymentsOf(t, quiet); g.State.String() != "open" {
			return fmt.Errorf("state %s", g.State)
		}
		return nil
	})
	g := paymentsOf(t, quiet)
	if g.Counters.Admitted != 0 || g.Counters.Failed != 0 {
		t.Errorf("%s called payments (counters %+v): it should have opened on the fleet's votes alone", quiet.ID, g.Counters)
	}
	var s fleet.Snapshot
	if err := getJSON(quiet.Fleet, &s); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(s.Guards, func(v fleet.GuardView) bool { return v.Guard == "payments" })
	if i < 0 {
		t.Fatalf("%s's fleet view has no payments: %+v", quiet.ID, s.Guards)
	}
	votes := slices.Sorted(slices.Values(s.Guards[i].OpenVotes))
	if !slices.Equal(votes, []string{busy[0].ID, busy[1].ID}) || !s.Guards[i].Adopted {
		t.Errorf("%s's view of payments: %+v; want open votes of %s and %s, adopted", quiet.ID, s.Guards[i], busy[0].ID, busy[1].ID)
	}
	// The quiet replica's admin API (admin.WithFleet) reports the same:
	// the dashboard's Fleet panel and breakerctl fleet read it.
	var rep admin.FleetReport
	if err := getJSON(quiet.Admin+"/v1/fleet", &rep); err != nil {
		t.Fatal(err)
	}
	i = slices.IndexFunc(rep.Guards, func(v fleet.GuardView) bool { return v.Guard == "payments" })
	switch {
	case rep.Self.ID != quiet.ID || len(rep.Members) != 3 || !rep.Store.Up:
		t.Errorf("%s's /admin/v1/fleet: self %+v, members %+v, store %+v; want itself, 3 members, the store up", quiet.ID, rep.Self, rep.Members, rep.Store)
	case i < 0:
		t.Errorf("%s's /admin/v1/fleet has no payments: %+v", quiet.ID, rep.Guards)
	default:
		votes := slices.Sorted(slices.Values(rep.Guards[i].OpenVotes))
		if !slices.Equal(votes, []string{busy[0].ID, busy[1].ID}) || !rep.Guards[i].Adopted {
			t.Errorf("%s's /admin/v1/fleet, payments: %+v; want open votes of %s and %s, adopted", quiet.ID, rep.Guards[i], busy[0].ID, busy[1].ID)
		}
	}
	// The quiet replica answers checkouts at once, from its fallback.
	status, err := checkout(context.Background(), client, quiet.API)
	if err != nil || status != "PAYMENT_PENDING" {
		t.Errorf("checkout on %s = %q, %v; want PAYMENT_PENDING", quiet.ID, status, err)
	}
}

// checkFleetAction forces payments open for the whole fleet through the
// first replica's admin API, with the demo's write token, and waits until
// the last replica's registry holds it (read through that replica's admin
// API); the first replica's audit log records the action once.
func checkFleetAction(t *testing.T, addrs FleetAddresses) {
	t.Helper()
	first, last := addrs.Replicas[0], addrs.Replicas[len(addrs.Replicas)-1]
	const reason = "e2e: provider maintenance"
	body, err := json.Marshal(admin.FleetActionRequest{Target: "payments", Action: fleet.ActionForceOpen, Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, first.Admin+"/v1/fleet/actions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+addrs.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res admin.FleetActionResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("POST %s/v1/fleet/actions: %s, %v", first.Admin, resp.Status, err)
	}
	if o := res.Override; o.Version == 0 || o.By != first.ID || o.Actor != "demo" || o.Target != "payments" || o.Action != fleet.ActionForceOpen {
		t.Errorf("stored %+v; want a versioned force-open of payments by %s, actor demo", o, first.ID)
	}

	waitFor(t, time.Minute, last.ID+" applying the fleet's force-open", func() error {
		g := paymentsOf(t, last)
		if g.State != breaker.ForcedOpen || g.Override == nil || g.Override.Reason != reason {
			return fmt.Errorf("state %s, override %+v", g.State, g.Override)
		}
		return nil
	})
	var rep admin.FleetReport
	if err := getJSON(last.Admin+"/v1/fleet", &rep); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Overrides, func(o fleet.Override) bool { return o.Version == res.Override.Version && o.Reason == reason }) {
		t.Errorf("%s's /admin/v1/fleet lists overrides %+v; want version %d", last.ID, rep.Overrides, res.Override.Version)
	}
	var page admin.AuditPage
	if err := getJSON(first.Admin+"/v1/audit", &page); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range page.Records {
		if r.Op == admin.OpFleetAction {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s's audit log holds %d fleet actions, want 1: %+v", first.ID, n, page.Records)
	}
}
