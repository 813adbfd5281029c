package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

func TestFleetScopeRefusesBadFields(t *testing.T) {
	for _, c := range []struct {
		f    core.FleetPolicy
		want string
	}{
		{core.FleetPolicy{Scope: "planet"}, `fleet.scope: "planet" is not a scope`},
		{core.FleetPolicy{Scope: "global", Regions: 1}, "fleet.regions: 1 must be between 2 and"},
		{core.FleetPolicy{Scope: "global", Regions: -3}, "fleet.regions: -3 must be between 2 and"},
		{core.FleetPolicy{Scope: "global", Regions: 1000}, "fleet.regions: 1000 must be between 2 and"},
		{core.FleetPolicy{Regions: 3}, `fleet.regions: 3 is only read with scope "global"`},
	} {
		f := c.f
		_, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Fleet: &f}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.f, err, c.want)
		}
	}
	for _, ok := range []core.FleetPolicy{{Scope: "regional"}, {Scope: "global"}, {Scope: "global", Regions: 3}} {
		f := ok
		if _, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Fleet: &f})); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestFleetScopeProblemNamesItsPath(t *testing.T) {
	reg, _ := core.NewRegistry()
	_, err := reg.Apply(core.Document{Policies: []core.Policy{{Name: "a", Fleet: &core.FleetPolicy{Scope: "global", Regions: 1}}}})
	var de *core.DocumentError
	if !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Path != "policies[0].fleet.regions" {
		t.Fatalf("err = %v (%+v)", err, de)
	}
}

func TestFleetGlobalRuleDefaults(t *testing.T) {
	var nilPolicy *core.FleetPolicy
	if g, k := nilPolicy.GlobalRule(); g || k != 0 {
		t.Fatalf("nil: %v %d", g, k)
	}
	if g, k := (&core.FleetPolicy{Scope: "global"}).GlobalRule(); !g || k != 2 {
		t.Fatalf("global: %v %d", g, k)
	}
	if g, k := (&core.FleetPolicy{Scope: "global", Regions: 3}).GlobalRule(); !g || k != 3 {
		t.Fatalf("global 3: %v %d", g, k)
	}
	if g, _ := (&core.FleetPolicy{Scope: "regional"}).GlobalRule(); g {
		t.Fatal("regional reads as global")
	}
}
