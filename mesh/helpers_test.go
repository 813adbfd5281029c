package mesh

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"gopkg.in/yaml.v3"
)

// examplesDir holds the repository's example policy documents.
const examplesDir = "../examples/policies"

// loadDocument reads a policy document from a YAML file, or a directory of
// them merged in lexical order (the layout policyfile.Load reads), with
// plain YAML decoding: package mesh resolves extends and presets itself,
// so its tests do not depend on the registry's checks.
func loadDocument(t *testing.T, path string) core.Document {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{path}
	if st.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(files)
	}
	var doc core.Document
	for _, f := range files {
		d := decodeYAMLDocument(t, f)
		doc.Policies = append(doc.Policies, d.Policies...)
		doc.Variants = append(doc.Variants, d.Variants...)
		if d.Tenants != nil {
			if doc.Tenants == nil {
				doc.Tenants = &core.TenantPolicy{}
			}
			doc.Tenants.Overrides = append(doc.Tenants.Overrides, d.Tenants.Overrides...)
		}
	}
	return doc
}

func decodeYAMLDocument(t *testing.T, file string) core.Document {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var doc core.Document
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return doc
}

// exampleDocuments lists the example documents by golden-file name.
func exampleDocuments(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example policies in %s (%v)", examplesDir, err)
	}
	out := map[string]string{"storefront": filepath.Join(examplesDir, "storefront")}
	for _, f := range files {
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = f
	}
	return out
}
