package policyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDirectoryMergesFilesInLexicalOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.yml"), "policies:\n  - name: b\n    extends: a\nvariants:\n  - {name: v, policy: b, percent: 5, override: {timeout: 1s}}\n")
	writeFile(t, filepath.Join(dir, "a.yaml"), "policies:\n  - name: a\n    timeout: 2s\ntenants:\n  maxGuards: 5\n  overrides: [{tenant: t1, policies: [{name: a, timeout: 1s}]}]\n")
	writeFile(t, filepath.Join(dir, "c.JSON"), `{"policies": [{"name": "c"}], "tenants": {"overrides": [{"tenant": "t2", "policies": [{"name": "b"}]}]}}`)
	writeFile(t, filepath.Join(dir, ".hidden.yaml"), "not: [valid")
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a policy")
	writeFile(t, filepath.Join(dir, "sub", "d.yaml"), "policies: [{name: d}]")
	doc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range doc.Policies {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c" {
		t.Errorf("policies = %s, want a,b,c (lexical order; hidden, other and nested files left out)", got)
	}
	if doc.Tenants == nil || doc.Tenants.MaxGuards != 5 || len(doc.Tenants.Overrides) != 2 || len(doc.Variants) != 1 {
		t.Errorf("tenants and variants not merged: %+v %+v", doc.Tenants, doc.Variants)
	}
}

func TestLoadReportsDuplicateNamesAcrossFilesWithBothPositions(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), "policies:\n  - name: shared\n  - name: a\n")
	writeFile(t, filepath.Join(dir, "b.json"), "{\"policies\": [\n  {\"name\": \"b\"},\n  {\"name\": \"shared\"}\n]}")
	_, err := Load(dir)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.json")
	checkProblems(t, problemsOf(t, err), want{b, 3, 12, "policies[1].name", `"shared"`, `duplicate policy name "shared" (first defined at ` + a + `:2:11)`})
}

func TestLoadReportsEveryFilesProblemsAtTheirPlace(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), "policies:\n  - name: a\n    breaker: {openDuration: 3x}\n")
	writeFile(t, filepath.Join(dir, "b.yaml"), "policies:\n  - name: b\n    bulkhead: {maxConcurrent: -1}\n")
	_, err := Load(dir)
	checkProblems(t, problemsOf(t, err),
		want{filepath.Join(dir, "a.yaml"), 3, 29, "policies[0].breaker.openDuration", `"3x"`, "is not a duration"},
		want{filepath.Join(dir, "b.yaml"), 3, 31, "policies[0].bulkhead.maxConcurrent", "-1", "-1 must be at least 0"})

	// Core's checks run on the merged document, and report in the file.
	writeFile(t, filepath.Join(dir, "a.yaml"), "policies:\n  - name: a\n    extends: b\n")
	writeFile(t, filepath.Join(dir, "b.yaml"), "policies:\n  - name: z\n  - name: b\n    extends: a\ntenants: {maxGuards: 1}\n")
	writeFile(t, filepath.Join(dir, "c.yaml"), "policies: []\ntenants: {maxGuards: 2}\n")
	_, err = Load(dir)
	checkProblems(t, problemsOf(t, err),
		want{filepath.Join(dir, "a.yaml"), 3, 14, "policies[0].extends", `"b"`, "cycle a -> b -> a"},
		want{filepath.Join(dir, "b.yaml"), 4, 14, "policies[1].extends", `"a"`, "cycle b -> a -> b"},
		want{filepath.Join(dir, "c.yaml"), 2, 22, "tenants.maxGuards", "2", "also set in " + filepath.Join(dir, "b.yaml") + ":5:22; set it in one file"})
}

func TestLoadKubernetesConfigMapLayout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "..2026_12_07_10_00_00.1", "policies.yaml"), "policies: [{name: a}]\n")
	must(t, os.Symlink("..2026_12_07_10_00_00.1", filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "policies.yaml"), filepath.Join(dir, "policies.yaml")))
	doc, err := Load(dir)
	if err != nil || len(doc.Policies) != 1 || doc.Policies[0].Name != "a" {
		t.Fatalf("Load = %+v, %v; want the one policy, read once through the ..data link", doc, err)
	}
}

func TestLoadRefusesADirectoryWithoutPolicies(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "README.md"), "hello")
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "holds no policy file") {
		t.Fatalf("Load of a directory without policies = %v, want an error, never an empty document", err)
	}
}

func TestLoadRefusesTenMegabyteFileWithoutReadingItWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.yaml")
	f, err := os.Create(p)
	must(t, err)
	must(t, f.Truncate(10<<20))
	must(t, f.Close())
	_, err = Load(p)
	checkProblems(t, problemsOf(t, err), want{p, 1, MaxBytes + 1, "", "10485760 bytes", "the document is 10485760 bytes, over the limit of 4194304 bytes (4 MiB)"})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
