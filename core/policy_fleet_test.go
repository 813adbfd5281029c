package core_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

func TestFleetPolicyRefusesBadFields(t *testing.T) {
	for _, tc := range []struct {
		f    core.FleetPolicy
		want string
	}{
		{core.FleetPolicy{Adopt: "majority"}, `fleet.adopt: "majority" is not an adoption rule`},
		{core.FleetPolicy{Min: -1}, "fleet.min: -1 must be between 1 and"},
		{core.FleetPolicy{Min: 1 << 20}, "fleet.min: 1048576 must be between 1 and"},
		{core.FleetPolicy{Fraction: 1.5}, "fleet.fraction: 1.5 must be between 0 and 1"},
		{core.FleetPolicy{Fraction: math.NaN()}, "fleet.fraction: NaN"},
	} {
		err := core.Policy{Name: "p", Fleet: &tc.f}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	for _, ok := range []core.FleetPolicy{{}, {Adopt: "any"}, {Adopt: "local", SharedWindow: true}, {Adopt: "quorum", Min: 3, Fraction: 0.5}} {
		if err := (core.Policy{Name: "p", Fleet: &ok}).Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	var p core.Policy
	if err := json.Unmarshal([]byte(`{"name":"p","fleet":{"adopt":"any","quorum":3}}`), &p); err == nil || !strings.Contains(err.Error(), "quorum") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"name":"p","fleet":{"adopt":"quorum","min":3,"fraction":0.25,"sharedWindow":true}}`), &p); err != nil || p.Fleet.Min != 3 || !p.Fleet.SharedWindow {
		t.Fatalf("%v %+v", err, p.Fleet)
	}
}

func TestFleetPolicyProblemNamesItsPath(t *testing.T) {
	reg, _ := core.NewRegistry()
	_, err := reg.Apply(core.Document{Policies: []core.Policy{{Name: "a", Fleet: &core.FleetPolicy{Adopt: "most"}}}})
	var de *core.DocumentError
	if !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Path != "policies[0].fleet.adopt" {
		t.Fatalf("err = %v (%+v)", err, de)
	}
}

func TestFleetPolicyRuleDefaults(t *testing.T) {
	var nilPolicy *core.FleetPolicy
	if a, m, f := nilPolicy.Rule(); a != "quorum" || m != 2 || f != 0 {
		t.Fatalf("nil: %s %d %g", a, m, f)
	}
	if a, m, f := (&core.FleetPolicy{Adopt: "any", Min: 5, Fraction: 0.3}).Rule(); a != "any" || m != 5 || f != 0.3 {
		t.Fatalf("%s %d %g", a, m, f)
	}
	// A child inherits its parent's fleet section.
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "base", Fleet: &core.FleetPolicy{Adopt: "any"}},
		core.Policy{Name: "child", Extends: "base", Match: []string{"c"}},
	))
	if err != nil {
		t.Fatal(err)
	}
	if a, _, _ := reg.MustGuard("c").Policy().Fleet.Rule(); a != "any" {
		t.Fatalf("inherited rule %q, want any", a)
	}
}
