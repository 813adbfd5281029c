package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

func TestApplyReplacesAndVersions(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	doc := core.Document{Policies: []core.Policy{{Name: "a"}, {Name: "b", Extends: "a"}}}
	res, err := reg.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 || len(res.Added) != 2 || !strings.HasPrefix(res.Hash, "sha256:") {
		t.Fatalf("first apply: %+v", res)
	}
	doc2 := core.Document{Policies: []core.Policy{{Name: "a"}, {Name: "c", Timeout: core.Duration(1)}}}
	res, err = reg.Apply(doc2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || len(res.Unchanged) != 1 || len(res.Added) != 1 || len(res.Removed) != 1 {
		t.Fatalf("second apply: %+v", res)
	}
	if v, h := reg.PolicyVersion(); v != 2 || h != doc2.Hash() {
		t.Fatalf("PolicyVersion = %d %s", v, h)
	}
}

func TestApplyRefusesWholeDocumentListingEveryProblem(t *testing.T) {
	reg, _ := core.NewRegistry()
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{{Name: "keep"}}}); err != nil {
		t.Fatal(err)
	}
	bad := core.Document{Policies: []core.Policy{
		{Name: "x", Timeout: -1},
		{Name: "x"},
		{Name: "y", Extends: "nobody"},
		{Name: "z", Fallbacks: []core.FallbackRef{{Name: "cache"}}},
	}}
	_, err := reg.Apply(bad)
	var de *core.DocumentError
	if !errors.As(err, &de) || len(de.Problems) != 4 {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"policies[0].timeout", "policies[1].name", "policies[2].extends", "policies[3].fallbacks[0].name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("version moved to %d after a refused document", v)
	}
	if _, err := reg.Policy("keep"); err != nil {
		t.Fatalf("last good document lost: %v", err)
	}
}
