package policyfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policyfile/internal/schemagen"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// needDir returns the files matching pattern (relative to policyfile/),
// failing under CI=true when there are none, skipping otherwise.
func needFiles(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no file matches %s (CI=true: they must be there)", pattern)
		}
		t.Skipf("no file matches %s", pattern)
	}
	return files
}

func TestSchemaJSONIsUpToDate(t *testing.T) {
	if _, err := os.Stat("../core"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("core's source is not at ../core")
	}
	got, err := schemagen.Generate("../core")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, schemaJSON) {
		t.Fatal("schema.json is out of date with core's policy types and their doc comments: run `go generate ./...` in policyfile/ and commit schema.json")
	}
	if !bytes.Equal(Schema(), schemaJSON) {
		t.Fatal("Schema() differs from the embedded schema.json")
	}
}

// compileAt compiles Schema() at a JSON pointer ("" for the document).
func compileAt(t *testing.T, pointer string) *jsonschema.Schema {
	t.Helper()
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", raw); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json" + pointer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaIsDraft202012WithClosedObjects(t *testing.T) {
	var s struct {
		Schema string                     `json:"$schema"`
		Defs   map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q", s.Schema)
	}
	for name, d := range s.Defs {
		var def map[string]any
		_ = json.Unmarshal(d, &def)
		if def["type"] == "object" && def["additionalProperties"] != false {
			t.Errorf("$defs/%s allows unknown keys", name)
		}
		if def["description"] == nil || def["description"] == "" {
			t.Errorf("$defs/%s has no description", name)
		}
	}
	// A field's description comes from its doc comment in core.
	if !strings.Contains(string(Schema()), `"description": "OpenDuration is how long the breaker stays open. Default 30s."`) {
		t.Error("breaker.openDuration's description is not its doc comment")
	}
	if !strings.Contains(string(Schema()), `preset:<name>`) {
		t.Error("extends does not document preset:<name>")
	}
}

// TestSchemaEnumsAreWhatCoreAccepts holds the generator's enum table to
// core: every listed value validates, a value outside the list does not.
func TestSchemaEnumsAreWhatCoreAccepts(t *testing.T) {
	templates := map[string]string{ // %s is the value, quoted
		"BreakerPolicy.mode":        `{"name": "p", "breaker": {"mode": %s}}`,
		"BreakerPolicy.window":      `{"name": "p", "breaker": {"window": %s}}`,
		"RateLimitPolicy.algorithm": `{"name": "p", "rateLimit": {"limit": 1, "algorithm": %s}}`,
		"RetryPolicy.jitter":        `{"name": "p", "retry": {"jitter": %s}}`,
		"FallbackRef.on":            `{"name": "p", "fallbacks": [{"name": "f", "on": [%s]}]}`,
	}
	// Enums of the document's operations sections, checked by ParseDocument.
	docTemplates := map[string]string{
		"MaintenanceWindow.mode": `{"policies": [], "maintenance": [{"name": "w", "tags": ["t"], "mode": %s, "schedule": "@daily", "duration": "1h"}]}`,
		"ChaosExperiment.fault":  `{"policies": [], "chaos": [{"id": "x", "fault": %s, "rate": 1, "latency": "1ms", "duration": "1m"}]}`,
	}
	for k, v := range docTemplates {
		templates[k] = v
	}
	validate := func(key, v string) error {
		if tpl, ok := docTemplates[key]; ok {
			q, _ := json.Marshal(v)
			_, err := core.ParseDocument([]byte(strings.Replace(tpl, "%s", string(q), 1)))
			return err
		}
		var p core.Policy
		q, _ := json.Marshal(v)
		if err := json.Unmarshal([]byte(strings.Replace(templates[key], "%s", string(q), 1)), &p); err != nil {
			return err
		}
		return p.Validate()
	}
	for key, values := range schemagen.Enums {
		if templates[key] == "" {
			t.Errorf("no template for enum %s: add one", key)
			continue
		}
		for _, v := range values {
			if err := validate(key, v); err != nil {
				t.Errorf("%s: schema allows %q, core refuses it: %v", key, v, err)
			}
		}
		if err := validate(key, "surely-not-a-value"); err == nil {
			t.Errorf("%s: core accepts a value outside the enum", key)
		}
	}
}

func TestEveryPresetValidatesAgainstSchema(t *testing.T) {
	s := compileAt(t, "#/$defs/Policy")
	for _, f := range needFiles(t, "../core/presets/*.json") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s does not validate against the schema: %v", f, err)
		}
	}
}

var schemaComment = regexp.MustCompile(`^# yaml-language-server: \$schema=(\S+)\n`)

func TestEveryExampleValidatesAgainstSchema(t *testing.T) {
	s := compileAt(t, "")
	self, err := os.Stat("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	files := needFiles(t, "../examples/policies/*.y*ml")
	nested, _ := filepath.Glob("../examples/policies/*/*.y*ml") // a directory per service
	for _, f := range append(files, nested...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The example names the schema for editors, by a relative path
		// that leads to this schema.json.
		m := schemaComment.FindSubmatch(data)
		if m == nil {
			t.Errorf("%s does not start with # yaml-language-server: $schema=../../policyfile/schema.json", f)
		} else if st, err := os.Stat(filepath.Join(filepath.Dir(f), string(m[1]))); err != nil || !os.SameFile(st, self) {
			t.Errorf("%s: $schema=%s does not lead to policyfile/schema.json", f, m[1])
		}
		// The validator itself, on the document as parsed.
		root, probs := parseYAML(data)
		if len(probs) > 0 || root == nil {
			t.Errorf("%s: %v", f, probs)
			continue
		}
		if err := s.Validate(root.toAny()); err != nil {
			t.Errorf("%s does not validate against the schema: %v", f, err)
		}
		// And the same through Parse's schema step, with positions.
		if _, probs := parseFile(f, data, len(data), newConfig(nil)); len(probs) > 0 {
			t.Errorf("%s: %v", f, (&core.DocumentError{Problems: probs}).Error())
		}
	}
}

// TestEveryExampleLoads loads every example, each file and each directory
// of files, through every check (core's included: presets must resolve).
func TestEveryExampleLoads(t *testing.T) {
	files := needFiles(t, "../examples/policies/*.y*ml")
	entries, _ := os.ReadDir("../examples/policies")
	for _, e := range entries {
		if e.IsDir() {
			files = append(files, filepath.Join("../examples/policies", e.Name()))
		}
	}
	for _, p := range files {
		doc, err := Load(p)
		if err != nil {
			t.Errorf("Load(%s): %v", p, err)
		} else if len(doc.Policies) == 0 {
			t.Errorf("Load(%s): no policies", p)
		}
	}
}
