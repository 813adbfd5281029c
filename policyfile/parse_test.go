package policyfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// problemsOf returns the problems of a refused document, failing the test
// when err is not a *core.DocumentError.
func problemsOf(t *testing.T, err error) []core.Problem {
	t.Helper()
	var de *core.DocumentError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v (%T), want a *core.DocumentError", err, err)
	}
	return de.Problems
}

// want is a problem a test expects; Message is a substring.
type want struct {
	File         string
	Line, Column int
	Path, Value  string
	Message      string
}

func checkProblems(t *testing.T, got []core.Problem, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d problems, want %d:", len(got), len(wants))
		for _, p := range got {
			t.Errorf("\t%s [path %q value %q]", p, p.Path, p.Value)
		}
		return
	}
	for i, w := range wants {
		p := got[i]
		if p.File != w.File || p.Line != w.Line || p.Column != w.Column || p.Path != w.Path || p.Value != w.Value || !strings.Contains(p.Message, w.Message) {
			t.Errorf("problem %d = %+v\n\twant %+v", i, p, w)
		}
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            []want
	}{{
		name: "unknown keys",
		file: "p.yaml",
		src: `policies:
  - name: a
    breaker:
      failureRat: 30
    colour: red
`,
		want: []want{
			{"p.yaml", 4, 7, "policies[0].breaker.failureRat", `"failureRat"`, `unknown field "failureRat"; did you mean "failureRate"?`},
			{"p.yaml", 5, 5, "policies[0].colour", `"colour"`, `unknown field "colour"; known fields: breaker, bulkhead, cache, cost, critical,`},
		},
	}, {
		name: "unknown key in JSON",
		file: "p.json",
		src:  "{\n  \"policies\": [\n    {\"name\": \"a\", \"Breaker\": {}}\n  ]\n}\n",
		want: []want{{"p.json", 3, 19, "policies[0].Breaker", `"Breaker"`, `unknown field "Breaker"; did you mean "breaker"?`}},
	}, {
		name: "wrong types",
		file: "p.yaml",
		src: `policies:
  - name: a
    bulkhead: {maxConcurrent: "ten"}
    critical: yes
    tags: web
    retry: {maxAttempts: 2.5}
`,
		want: []want{
			{"p.yaml", 3, 31, "policies[0].bulkhead.maxConcurrent", `"ten"`, `want an integer, got the string "ten"`},
			{"p.yaml", 4, 15, "policies[0].critical", `"yes"`, `want true or false, got the string "yes"`},
			{"p.yaml", 5, 11, "policies[0].tags", `"web"`, `want an array, got the string "web"`},
			{"p.yaml", 6, 26, "policies[0].retry.maxAttempts", `2.5`, `want an integer, got the number 2.5`},
		},
	}, {
		name: "out of range and bad enum and duration",
		file: "p.yaml",
		src: `policies:
  - name: a
    breaker:
      failureRate: 150
      openJitter: 1
      window: sliding
      openDuration: 3x
      windowSize: -1
    rateLimit: {limit: -1}
`,
		want: []want{
			{"p.yaml", 4, 20, "policies[0].breaker.failureRate", "150", "150 must be at most 100"},
			{"p.yaml", 5, 19, "policies[0].breaker.openJitter", "1", "1 must be below 1"},
			{"p.yaml", 6, 15, "policies[0].breaker.window", `"sliding"`, `"sliding" is not one of "count", "time"`},
			{"p.yaml", 7, 21, "policies[0].breaker.openDuration", `"3x"`, `"3x" is not a duration such as "30s" or "1m30s"`},
			{"p.yaml", 8, 19, "policies[0].breaker.windowSize", "-1", "-1 must be at least 0"},
			{"p.yaml", 9, 24, "policies[0].rateLimit.limit", "-1", "-1 must be at least 0"},
		},
	}, {
		name: "out of range found by core",
		file: "p.yaml",
		src: `policies:
  - name: a
    breaker: {slowCallRate: 10}
  - name: b
    breaker: {maxOpenDuration: 1s, openDuration: 1m}
`,
		want: []want{
			{"p.yaml", 3, 29, "policies[0].breaker.slowCallRate", "10", "10 is set but slowCallDuration is zero"},
			{"p.yaml", 5, 32, "policies[1].breaker.maxOpenDuration", `"1s"`, "1s is shorter than openDuration 1m0s"},
		},
	}, {
		name: "missing required fields",
		file: "p.yaml",
		src: `policies:
  - extends: b
    fallbacks: [{on: [failed]}]
`,
		want: []want{
			{"p.yaml", 2, 5, "policies[0].name", "", `missing required field "name"`},
			{"p.yaml", 3, 17, "policies[0].fallbacks[0].name", "", `missing required field "name"`},
		},
	}, {
		name: "extends cycle",
		file: "p.yaml",
		src: `policies:
  - name: a
    extends: b
  - name: b
    extends: a
  - name: c
    extends: nobody
`,
		want: []want{
			{"p.yaml", 3, 14, "policies[0].extends", `"b"`, "cycle a -> b -> a"},
			{"p.yaml", 5, 14, "policies[1].extends", `"a"`, "cycle b -> a -> b"},
			{"p.yaml", 7, 14, "policies[2].extends", `"nobody"`, `unknown policy "nobody"`},
		},
	}, {
		name: "unknown preset",
		file: "p.yaml",
		src: `policies:
  - name: a
    extends: preset:nope
`,
		// Core names the preset ("unknown preset" once presets resolve,
		// "unknown policy" before).
		want: []want{{"p.yaml", 3, 14, "policies[0].extends", `"preset:nope"`, `nope"`}},
	}, {
		name: "duplicate guard names",
		file: "p.yaml",
		src: `policies:
  - name: a
  - name: b
  - name: a
`,
		want: []want{{"p.yaml", 4, 11, "policies[2].name", `"a"`, `duplicate policy name "a" (first defined at p.yaml:2:11)`}},
	}, {
		name: "duplicate keys",
		file: "p.yaml",
		src: `policies:
  - name: a
    name: b
`,
		want: []want{{"p.yaml", 3, 5, "", `"name"`, `duplicate key "name" (first at line 2, column 5)`}},
	}, {
		name: "duplicate keys in JSON",
		file: "p.json",
		src:  `{"policies": [], "policies": []}`,
		want: []want{{"p.json", 1, 18, "", `"policies"`, `duplicate key "policies" (first at line 1, column 2)`}},
	}, {
		name: "YAML syntax",
		file: "p.yaml",
		src:  "policies:\n  - name: a\n    tags: [x, y\n",
		want: []want{{"p.yaml", 2, 0, "", "", "invalid YAML: did not find expected ',' or ']'"}},
	}, {
		name: "JSON syntax",
		file: "p.json",
		src:  "{\"policies\": [\n  {\"name\": \"a\",}\n]}",
		want: []want{{"p.json", 2, 16, "", "", "invalid JSON: invalid character '}'"}},
	}, {
		name: "empty",
		file: "p.yaml",
		src:  "# nothing yet\n",
		want: []want{{"p.yaml", 1, 1, "", "", "the document is empty"}},
	}, {
		name: "two YAML documents",
		file: "p.yaml",
		src:  "policies: []\n---\npolicies: []\n",
		want: []want{{"p.yaml", 2, 1, "", "", "more than one YAML document"}},
	}, {
		name: "variant and tenant checks",
		file: "p.yaml",
		src: `policies:
  - name: a
tenants:
  overrides:
    - tenant: acme
      policies: [{name: zz}]
variants:
  - name: v
    policy: a
    percent: 101
    override: {name: x}
`,
		want: []want{
			{"p.yaml", 10, 14, "variants[0].percent", "101", "101 must be at most 100"},
			{"p.yaml", 11, 16, "variants[0].override.name", `"name"`, `unknown field "name"`},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.file, []byte(tt.src))
			checkProblems(t, problemsOf(t, err), tt.want...)
		})
	}
}

func TestParseRefusesTenMegabytes(t *testing.T) {
	var b strings.Builder
	b.WriteString("policies:\n")
	for b.Len() < 10<<20 {
		b.WriteString("  - name: guard-with-a-long-name-to-fill-the-document\n")
	}
	data := []byte(b.String())
	_, err := Parse("big.yaml", data)
	probs := problemsOf(t, err)
	line := 1 + (MaxBytes-len("policies:\n"))/len("  - name: guard-with-a-long-name-to-fill-the-document\n") + 1
	col := 1 + (MaxBytes-len("policies:\n"))%len("  - name: guard-with-a-long-name-to-fill-the-document\n")
	checkProblems(t, probs, want{"big.yaml", line, col, "", fmt.Sprint(len(data), " bytes"),
		fmt.Sprintf("the document is %d bytes, over the limit of 4194304 bytes (4 MiB), which it passes here", len(data))})

	small := []byte("policies: [{name: a}]\n")
	if _, err := Parse("small.yaml", small, WithMaxBytes(len(small))); err != nil {
		t.Errorf("a document of exactly the limit: %v", err)
	}
	_, err = Parse("small.yaml", small, WithMaxBytes(16))
	checkProblems(t, problemsOf(t, err), want{"small.yaml", 1, 17, "", "22 bytes", "over the limit of 16 bytes (16 bytes)"})
}

func TestParseFallbacksOnlyCheckedWhenNamed(t *testing.T) {
	src := []byte("policies:\n  - name: a\n    fallbacks: [{name: cached, on: [rejected]}]\n")
	if _, err := Parse("p.yaml", src); err != nil {
		t.Fatalf("without WithFallbacks: %v", err)
	}
	if _, err := Parse("p.yaml", src, WithFallbacks("cached")); err != nil {
		t.Fatalf("with the fallback named: %v", err)
	}
	_, err := Parse("p.yaml", src, WithFallbacks("other"))
	checkProblems(t, problemsOf(t, err), want{"p.yaml", 3, 24, "policies[0].fallbacks[0].name", `"cached"`, `no fallback registered as "cached"`})
}

func TestParseYAMLAndJSONGiveTheSameDocument(t *testing.T) {
	y, err := Parse("p.yaml", []byte(`
base: &base
  breaker: {openDuration: 10s}
policies:
  - name: a
    <<: *base
    match: ["a.*"]
    retry: {maxAttempts: 3, jitter: none}
    fallbacks: [{name: f, on: [failed]}]
`))
	if err == nil {
		t.Fatal("a top-level anchor key was accepted; want it refused as an unknown field")
	}
	y, err = Parse("p.yaml", []byte(`
policies:
  - &a
    name: a
    breaker: {openDuration: 10s}
  - <<: *a
    name: b
    match: ["a.*"]
    retry: {maxAttempts: 3, jitter: none}
    fallbacks: [{name: f, on: [failed]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse("p.json", []byte(`{"policies": [
		{"name": "a", "breaker": {"openDuration": "10s"}},
		{"name": "b", "breaker": {"openDuration": "10s"}, "match": ["a.*"], "retry": {"maxAttempts": 3, "jitter": "none"}, "fallbacks": [{"name": "f", "on": ["failed"]}]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	if y.Hash() != j.Hash() {
		t.Errorf("YAML and JSON documents differ:\n%+v\n%+v", y, j)
	}
	// Sniffing: no extension, JSON content.
	s, err := Parse("policies", []byte(`  {"policies": [{"name": "a"}]}`))
	if err != nil || len(s.Policies) != 1 {
		t.Errorf("sniffed JSON: %v, %+v", err, s)
	}
}

func TestParseBoundsAliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("policies: []\n")
	_, err := Parse("bomb.yaml", []byte(b.String()))
	probs := problemsOf(t, err)
	if !strings.Contains(probs[0].Message, "aliases expand to more than") {
		t.Errorf("problems = %v, want the alias expansion refused", probs)
	}
}

// TestParseLeavesInheritableFieldsToCore: bulkhead.maxConcurrent and
// rateLimit.limit may come from the parent, so the schema does not require
// them; core refuses a policy that has them nowhere.
func TestParseLeavesInheritableFieldsToCore(t *testing.T) {
	_, err := Parse("p.yaml", []byte("policies:\n  - name: a\n    bulkhead: {maxQueue: 3}\n"))
	checkProblems(t, problemsOf(t, err), want{"p.yaml", 3, 15, "policies[0].bulkhead.maxConcurrent", "", "0 must be at least 1"})
}
