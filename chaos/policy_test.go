package chaos_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

type changes struct {
	mu  sync.Mutex
	got []string
}

func (c *changes) observe(pc chaos.PolicyChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := pc.Op + " " + pc.Experiment.ID + " by " + pc.Actor
	if pc.Err != nil {
		s += " failed: " + pc.Err.Error()
	}
	c.got = append(c.got, s)
}

func (c *changes) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := strings.Join(c.got, "; ")
	c.got = nil
	return out
}

func policyRegistry(t *testing.T, cfg chaos.Config) (*core.Registry, *chaos.Injector, *changes) {
	t.Helper()
	inj, err := chaos.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry(core.WithChaos(inj))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("search")
	reg.MustGuard("ledger", core.WithTags("money"))
	c := &changes{}
	inj.ObservePolicy(c.observe)
	return reg, inj, c
}

func docWith(es ...core.ChaosExperiment) core.Document {
	return core.Document{Policies: []core.Policy{{Name: "search"}}, Chaos: es}
}

func callOK(reg *core.Registry, name string) error {
	return reg.MustGuard(name).Do(context.Background(), func(context.Context) error { return nil })
}

func TestPolicyExperimentsFollowTheDocument(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, inj, ch := policyRegistry(t, chaos.Config{MaxGuards: 2})
		rej := core.ChaosExperiment{ID: "reject-search", Fault: "reject", Rate: 1, Guards: []string{"search"}, Duration: core.Duration(10 * time.Minute), Reason: "game day"}
		if _, err := reg.Apply(docWith(rej), core.AppliedBy("carol")); err != nil {
			t.Fatal(err)
		}
		if got := ch.take(); got != "start reject-search by carol" {
			t.Fatalf("changes: %s", got)
		}
		if err := callOK(reg, "search"); !errors.Is(err, core.ErrChaos) {
			t.Fatalf("search under the document's experiment: %v", err)
		}
		act := inj.Active()
		if len(act) != 1 || act[0].Source != chaos.SourcePolicy || act[0].Actor != "carol" || !strings.HasPrefix(act[0].Reason, "policy document version 1: game day") {
			t.Fatalf("active: %+v", act)
		}
		ends := act[0].Ends

		// The same document again: the experiment goes on, its end as it was.
		time.Sleep(time.Minute)
		if _, err := reg.Apply(docWith(rej)); err != nil {
			t.Fatal(err)
		}
		if got := ch.take(); got != "" {
			t.Fatalf("the same document made changes: %s", got)
		}
		if act := inj.Active(); len(act) != 1 || !act[0].Ends.Equal(ends) {
			t.Fatalf("active after the same document: %+v", act)
		}
		// Stopped by an operator, it is not started again by the same document.
		if _, err := inj.Stop("reject-search"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Apply(docWith(rej)); err != nil {
			t.Fatal(err)
		}
		if len(inj.Active()) != 0 {
			t.Fatal("the same document restarted an experiment an operator stopped")
		}
		// Changed, it starts again (policy's actor when none is given).
		rej.Rate = 0.5
		if _, err := reg.Apply(docWith(rej)); err != nil {
			t.Fatal(err)
		}
		if got := ch.take(); got != "start reject-search by policy" {
			t.Fatalf("changes: %s", got)
		}
		// Removed, it stops.
		if _, err := reg.Apply(docWith(), core.AppliedBy("dave")); err != nil {
			t.Fatal(err)
		}
		if got := ch.take(); got != "stop reject-search by dave" {
			t.Fatalf("changes: %s", got)
		}
		if err := callOK(reg, "search"); err != nil {
			t.Fatalf("search after the experiment was removed: %v", err)
		}
		// An experiment with an end time that passed does nothing.
		past := core.ChaosExperiment{ID: "old", Fault: "error", Rate: 1, Guards: []string{"search"}, Ends: time.Now().Add(-time.Hour)}
		if _, err := reg.Apply(docWith(past)); err != nil {
			t.Fatal(err)
		}
		if len(inj.Active()) != 0 || ch.take() != "" {
			t.Fatal("an ended experiment started")
		}
		// A scope that holds no guard when it starts: applied, not started,
		// and the change says why.
		none := core.ChaosExperiment{ID: "none", Fault: "error", Rate: 1, Tags: []string{"nothing"}, Duration: core.Duration(time.Minute)}
		if _, err := reg.Apply(docWith(none)); err != nil {
			t.Fatal(err)
		}
		if got := ch.take(); !strings.Contains(got, "start none by policy failed: chaos: guards, tags: no guard is in scope") {
			t.Fatalf("changes: %s", got)
		}
		// The kill switch stops document experiments too.
		rej.ID = "again"
		if _, err := reg.Apply(docWith(rej)); err != nil {
			t.Fatal(err)
		}
		if k := inj.Kill(); len(k) != 1 || k[0].ID != "again" {
			t.Fatalf("kill: %+v", k)
		}
	})
}

// A bad experiment refuses the whole document with the field's path and
// value; nothing of it is applied.
func TestPolicyExperimentRefusedWhole(t *testing.T) {
	later := time.Now().Add(10 * time.Minute)
	cases := []struct {
		name      string
		noChaos   bool
		e         core.ChaosExperiment
		path, val string
	}{
		{"rate above 1", false, core.ChaosExperiment{ID: "x", Fault: "error", Rate: 1.5, Guards: []string{"search"}, Ends: later}, "chaos[0].rate", "1.5"},
		{"unknown fault", false, core.ChaosExperiment{ID: "x", Fault: "fire", Rate: 1, Ends: later}, "chaos[0].fault", `"fire"`},
		{"no end", false, core.ChaosExperiment{ID: "x", Fault: "reject", Rate: 1}, "chaos[0].ends", ""},
		{"too long", false, core.ChaosExperiment{ID: "x", Fault: "reject", Rate: 1, Duration: core.Duration(2 * time.Hour)}, "chaos[0].duration", `"2h0m0s"`},
		{"unknown guard", false, core.ChaosExperiment{ID: "x", Fault: "reject", Rate: 1, Guards: []string{"nope"}, Ends: later}, "chaos[0].guards[0]", `"nope"`},
		{"excluded guard", false, core.ChaosExperiment{ID: "x", Fault: "reject", Rate: 1, Guards: []string{"ledger"}, Ends: later}, "chaos[0].guards[0]", `"ledger"`},
		{"injector's id", false, core.ChaosExperiment{ID: "exp-3", Fault: "reject", Rate: 1, Guards: []string{"search"}, Ends: later}, "chaos[0].id", `"exp-3"`},
		{"no chaos", true, core.ChaosExperiment{ID: "x", Fault: "reject", Rate: 1, Guards: []string{"search"}, Ends: later}, "chaos", "1 experiments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reg *core.Registry
			var inj *chaos.Injector
			if c.noChaos {
				var err error
				if reg, err = core.NewRegistry(); err != nil {
					t.Fatal(err)
				}
			} else {
				reg, inj, _ = policyRegistry(t, chaos.Config{MaxGuards: 2, ExcludeTags: []string{"money"}})
			}
			d := docWith(c.e)
			d.Policies = append(d.Policies, core.Policy{Name: "new"})
			m, err := policy.NewManager(context.Background(), reg, policy.NewMemoryStore())
			if err != nil {
				t.Fatal(err)
			}
			for _, via := range []string{"Registry.Apply", "policy.Manager"} {
				if via == "Registry.Apply" {
					_, err = reg.Apply(d)
				} else {
					_, err = m.Apply(context.Background(), d, policy.Meta{Actor: "carol", Reason: "game day"})
				}
				var de *core.DocumentError
				if !errors.As(err, &de) || len(de.Problems) != 1 {
					t.Fatalf("%s: %v, want one problem", via, err)
				}
				if p := de.Problems[0]; p.Path != c.path || p.Value != c.val {
					t.Fatalf("%s: problem %+v, want path %s value %s", via, p, c.path, c.val)
				}
				if c.noChaos && !strings.Contains(err.Error(), "core.WithChaos") {
					t.Fatalf("%s: the error does not say chaos is off: %v", via, err)
				}
			}
			if h, _ := m.History(context.Background(), 10); len(h) != 0 {
				t.Fatalf("the manager stored the refused document: %+v", h)
			}
			if v, _ := reg.PolicyVersion(); v != 0 {
				t.Fatalf("version %d is live", v)
			}
			if _, err := reg.Policy("new"); err == nil {
				t.Fatal("a policy of the refused document is live")
			}
			if inj != nil && len(inj.List()) != 0 {
				t.Fatalf("experiments: %+v", inj.List())
			}
		})
	}
}
