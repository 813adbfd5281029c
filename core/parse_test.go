package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// Issue 19, bad input: every refused document names each problem's
// position, field and value, and nothing of it is applied.
func TestParseDocumentRefusesBadInputWithPositionAndField(t *testing.T) {
	big := append([]byte(`{"policies":[{"name":"a","tags":["`), bytes.Repeat([]byte("x"), 10<<20)...)
	big = append(big, `"]}]}`...)
	tests := []struct {
		name      string
		doc       string
		path      string // of the first problem
		line, col int
		value     string
		message   string
	}{
		{"unknown key", "{\n  \"policies\": [\n    {\"name\": \"a\",\n     \"breaker\": {\"openDuraton\": \"3s\"}}\n  ]\n}",
			"policies[0].breaker.openDuraton", 4, 18, `"openDuraton"`, `unknown key (did you mean "openDuration"?)`},
		{"key in the wrong case", `{"policies":[{"Name":"a"}]}`, "policies[0].Name", 1, 15, `"Name"`, `keys are case-sensitive: "name"`},
		{"unknown top-level key", "{\"policy\": []}", "policy", 1, 2, `"policy"`, `did you mean "policies"?`},
		{"wrong type", "{\"policies\": [\n{\"name\": \"a\", \"timeout\": 5}]}", "policies[0].timeout", 2, 26, "5", `want a duration string such as "30s", got the number 5`},
		{"not a duration", `{"policies":[{"name":"a","retry":{"maxDelay":"1 minute"}}]}`, "policies[0].retry.maxDelay", 1, 46, `"1 minute"`, "is not a duration"},
		{"out of range", "{\"policies\": [\n  {\"name\": \"a\",\n   \"breaker\": {\"failureRate\": 150}}]}", "policies[0].breaker.failureRate", 3, 31, "150", "must be"},
		{"negative", `{"policies":[{"name":"a","bulkhead":{"maxConcurrent":-2}}]}`, "policies[0].bulkhead.maxConcurrent", 1, 54, "-2", "at least 1"},
		{"integer overflow", `{"policies":[{"name":"a","breaker":{"windowSize":99999999999999999999}}]}`, "policies[0].breaker.windowSize", 1, 50, "99999999999999999999", "out of range"},
		{"extends cycle", "{\"policies\": [\n{\"name\": \"a\", \"extends\": \"b\"},\n{\"name\": \"b\", \"extends\": \"a\"}]}", "policies[0].extends", 2, 26, `"b"`, "cycle a -> b -> a"},
		{"unknown parent", `{"policies":[{"name":"a","extends":"nobody"}]}`, "policies[0].extends", 1, 36, `"nobody"`, `unknown policy "nobody"`},
		{"unknown preset", `{"policies":[{"name":"a","extends":"preset:nope"}]}`, "policies[0].extends", 1, 36, `"preset:nope"`, `unknown preset "nope"`},
		{"duplicate name", "{\"policies\": [\n{\"name\": \"a\"},\n{\"name\": \"a\"}]}", "policies[1].name", 3, 10, `"a"`, `duplicate policy name "a"`},
		{"duplicate key", `{"policies":[{"name":"a","name":"b"}]}`, "policies[0].name", 1, 26, `"name"`, "appears twice"},
		{"trailing data", `{"policies":[]} {"policies":[]}`, "", 1, 17, "", "unexpected data after the document"},
		{"syntax error", "{\"policies\": [\n  {\"name\": \"a\",}]}", "", 2, 15, "", "not JSON"},
		{"truncated", `{"policies": [`, "", 1, 15, "", "ends too soon"},
		{"empty name", `{"policies":[{"name":""}]}`, "policies[0].name", 1, 22, `""`, "must not be empty"},
		{"variant of no policy", `{"policies":[{"name":"a"}],"variants":[{"name":"v","policy":"b","percent":5}]}`, "variants[0].policy", 1, 61, `"b"`, `no policy "b"`},
		{"10 MB", string(big), "", 1, 1, strconv.Itoa(len(big)) + " bytes", "over the limit of 4194304"},
	}
	reg := mustRegistry(t)
	live := Document{Policies: []Policy{{Name: "live"}}}
	mustApply(t, reg, live.Policies...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDocument([]byte(tt.doc))
			var de *DocumentError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("err = %v", err)
			}
			p := de.Problems[0]
			if p.Path != tt.path || p.Line != tt.line || p.Column != tt.col || p.Value != tt.value || !strings.Contains(p.Message, tt.message) {
				t.Errorf("problem %+v\nwant path %q at %d:%d, value %s, message with %q", p, tt.path, tt.line, tt.col, tt.value, tt.message)
			}
			// What encoding/json can decode, Apply refuses too.
			var doc Document
			if json.Unmarshal([]byte(tt.doc), &doc) == nil {
				if _, err := reg.Apply(doc); err == nil {
					t.Error("Apply took the document")
				}
			}
			if v, h := reg.PolicyVersion(); v != 1 || h != live.Hash() {
				t.Errorf("live version %d %s after a refused document", v, h)
			}
		})
	}
}

func TestParseDocumentListsEveryProblem(t *testing.T) {
	doc := `{"policies":[
		{"name":"a","timeout":"-1s","breaker":{"failureRate":150,"openDuration":"-5s"}},
		{"name":"b","extends":"a"},
		{"name":"c","bulkhead":{"maxConcurrent":0,"maxQueue":-1}},
		{"name":"d","bogus":1,"retry":{"maxAttempts":"3"}}
	]}`
	_, err := ParseDocument([]byte(doc))
	var de *DocumentError
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	// Decoding problems come first, and alone: d's two.
	if len(de.Problems) != 2 || de.Problems[0].Path != "policies[3].bogus" || de.Problems[1].Path != "policies[3].retry.maxAttempts" {
		t.Fatalf("decoding problems:\n%v", err)
	}
	doc = strings.Replace(doc, `"bogus":1,"retry":{"maxAttempts":"3"}`, `"retry":{"maxAttempts":-3}`, 1)
	_, err = ParseDocument([]byte(doc))
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range de.Problems {
		if p.Line == 0 {
			t.Errorf("no position: %+v", p)
		}
		paths = append(paths, p.Path)
	}
	want := []string{"policies[0].breaker.failureRate", "policies[0].breaker.openDuration", "policies[0].timeout",
		"policies[1].extends", "policies[2].bulkhead.maxConcurrent", "policies[2].bulkhead.maxQueue", "policies[3].retry.maxAttempts"}
	for _, w := range want {
		found := false
		for _, p := range paths {
			found = found || p == w
		}
		if !found {
			t.Errorf("no problem at %s in:\n%v", w, err)
		}
	}
}

func TestParseDocumentAcceptsAGoodDocument(t *testing.T) {
	in := `{"$schema":"https://example.com/s.json","policies":[
		{"name":"base","breaker":{"window":"time","windowDuration":"30s"},"bulkhead":{"maxConcurrent":10}},
		{"name":"api","extends":"base","match":["GET /**"],"bulkhead":{"maxQueue":5},"timeout":"2s"}],
		"tenants":{"maxGuards":10,"overrides":[{"tenant":"t1","policies":[{"name":"api","timeout":"1s"}]}]},
		"variants":[{"name":"v","policy":"api","percent":10,"override":{"timeout":"3s"}}]}`
	doc, err := ParseDocument([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Policies) != 2 || doc.Policies[1].Bulkhead.MaxQueue != 5 || doc.Tenants.MaxGuards != 10 || doc.Variants[0].Override.Timeout != Duration(3e9) {
		t.Fatalf("decoded %+v", doc)
	}
	var again Document
	if err := json.Unmarshal([]byte(in), &again); err != nil || again.Hash() != doc.Hash() {
		t.Fatalf("json.Unmarshal: %v", err)
	}
}

func TestLineColumnCountsCharacters(t *testing.T) {
	data := []byte("ab\n\u00e9\u00e9x")
	if l, c := lineColumn(data, len(data)-1); l != 2 || c != 3 {
		t.Fatalf("%d:%d", l, c)
	}
}

// ParseDocument never panics, and what it accepts decodes the same way
// with encoding/json and passes Registry.Check.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{
		`{"policies":[{"name":"a","breaker":{"openDuration":"3s"}}]}`,
		`{"policies":[{"name":"a","extends":"b"},{"name":"b","bulkhead":{"maxConcurrent":2}}]}`,
		`{"policies":[{"name":"a","extends":"preset:x"}],"tenants":{"overrides":[{"tenant":"t","policies":[{"name":"a"}]}]}}`,
		`{"policies":[{"name":"a","rateLimit":{"limit":5,"algorithm":"gcra"},"retry":{"budget":{"ratio":-1}}}]} `,
		`{"policies":[{"name":"a","name":"a"}]}`, `[`, `{"policies":[{"name":"\u00e9","match":["[a-"]}]}`,
	} {
		f.Add([]byte(s))
	}
	reg, err := NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseDocument(data)
		if err != nil {
			var de *DocumentError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		var again Document
		if err := json.Unmarshal(data, &again); err != nil || again.Hash() != doc.Hash() {
			t.Fatalf("encoding/json: %v", err)
		}
		if err := reg.Check(doc); err != nil {
			t.Fatalf("Check refused a parsed document: %v", err)
		}
	})
}
