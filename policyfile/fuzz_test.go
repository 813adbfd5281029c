package policyfile

import (
	"errors"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// FuzzParse feeds Parse arbitrary bytes, as YAML and as JSON: it must
// never panic, and a refusal is always a *core.DocumentError whose problems
// each say what is wrong.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"policies: [{name: a, breaker: {openDuration: 3x}}]",
		`{"policies": [{"name": "a", "extends": "a"}]}`,
		"policies:\n  - &a {name: a}\n  - <<: *a\n    name: b\n",
		"policies: [{name: a, fallbacks: [{name: f, on: [rejected]}]}]\nvariants: [{name: v, policy: a, percent: 5, override: {}}]",
		"tenants: {overrides: [{tenant: t, policies: [{name: zz}]}]}\npolicies: []",
	} {
		f.Add("p.yaml", []byte(s))
		f.Add("p.json", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		_, err := Parse(name, data)
		if err == nil {
			return
		}
		var de *core.DocumentError
		if !errors.As(err, &de) {
			t.Fatalf("error %T: %v", err, err)
		}
		for _, p := range de.Problems {
			if p.Message == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
	})
}
