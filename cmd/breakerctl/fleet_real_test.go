package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// realReplica is one replica of a real fleet: a registry joined by
// fleet.Join to a shared in-memory store, with its admin API (and the
// agent attached to it) on an httptest server.
type realReplica struct {
	id  string
	reg *core.Registry
	env map[string]string // breakerctl's environment, with alice's write token
}

// joinReplica starts replica id on its own connection to store.
func joinReplica(t *testing.T, store *fleet.MemoryStore, id string) realReplica {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments", core.WithTags("stripe"))
	reg.MustGuard("search")
	agent, err := fleet.Join(reg, store.Client(), fleet.WithReplicaID(id), fleet.WithRegion("eu-west-1"),
		fleet.WithHeartbeat(50*time.Millisecond), fleet.WithReconcileEvery(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	api, err := admin.New(reg, admin.WithToken("alice", aliceToken, admin.Write),
		admin.WithToken("grafana", readToken, admin.Read), admin.WithFleet(agent))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return realReplica{id: id, reg: reg, env: map[string]string{envAddr: srv.URL, envToken: aliceToken}}
}

// eventuallyCtl runs breakerctl with args until check accepts its result,
// failing the test after a generous bound: the agents converge in the
// background, and the test asserts where they end, not how fast.
func eventuallyCtl(t *testing.T, what string, env map[string]string, check func(result) error, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := policyCtl(env, args...)
		err := check(r)
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s: %v\nstdout:\n%s\nstderr:\n%s", what, err, r.stdout, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 20: breakerctl fleet against two replicas joined by the real agent
// (fleet.Join on one MemoryStore), each with its own admin API. The CLI
// lists both replicas from either one; an action taken through one
// replica's API reaches the other replica's registry, and shows in its
// fleet view; a release taken through the other undoes it on both.
func TestFleetWithTheRealAgent(t *testing.T) {
	store := fleet.NewMemoryStore()
	a := joinReplica(t, store, "replica-a")
	b := joinReplica(t, store, "replica-b")

	for _, r := range []realReplica{a, b} {
		eventuallyCtl(t, r.id+" listing both replicas", r.env, func(res result) error {
			if res.code != 0 {
				return fmt.Errorf("exit %d", res.code)
			}
			for _, w := range []string{"replica " + r.id + " of a fleet of 2; store up", r.id + " (this one)", "replica-a", "replica-b"} {
				if !strings.Contains(res.stdout, w) {
					return fmt.Errorf("no %q", w)
				}
			}
			return nil
		}, "fleet")
	}
	var rep wire.FleetReport
	policyCtl(a.env, "fleet", "--json").json(t, &rep)
	if rep.Self.ID != a.id || len(rep.Members) != 2 || !rep.Store.Up {
		t.Fatalf("fleet --json: self %+v, members %+v, store %+v", rep.Self, rep.Members, rep.Store)
	}

	r := policyCtl(a.env, "fleet", "act", "--target", "payments", "--action", "force-open", "--reason", "x")
	if r.code != 0 {
		t.Fatalf("fleet act: %d %s", r.code, r.stderr)
	}
	contains(t, "fleet act", r.stdout, "force-open payments by alice: stored for the fleet as version ")
	g := b.reg.MustGuard("payments")
	deadline := time.Now().Add(20 * time.Second)
	for g.Breaker().State() != breaker.ForcedOpen {
		if time.Now().After(deadline) {
			t.Fatalf("%s's payments is %s, not forced open, 20s after the action", b.id, g.Breaker().State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := b.reg.MustGuard("search").Breaker().State(); st != breaker.Closed {
		t.Errorf("%s's search is %s: the action was for payments only", b.id, st)
	}
	// The other replica's fleet view lists the action, with its actor and
	// reason.
	eventuallyCtl(t, b.id+"'s fleet view listing the action", b.env, func(res result) error {
		for _, w := range []string{"VERSION", "force-open", "alice", "x"} {
			if !strings.Contains(res.stdout, w) {
				return fmt.Errorf("no %q", w)
			}
		}
		return nil
	}, "fleet")

	// Released through the other replica, with --fleet: payments closes on
	// both.
	if r = policyCtl(b.env, "release", "payments", "--fleet", "--reason", "over"); r.code != 0 {
		t.Fatalf("release --fleet: %d %s", r.code, r.stderr)
	}
	for _, rep := range []realReplica{a, b} {
		g := rep.reg.MustGuard("payments")
		deadline := time.Now().Add(20 * time.Second)
		for g.Breaker().State() != breaker.Closed {
			if time.Now().After(deadline) {
				t.Fatalf("%s's payments is %s, not closed, 20s after the release", rep.id, g.Breaker().State())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
