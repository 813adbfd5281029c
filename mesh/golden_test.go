package mesh

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// TestGoldenExamples exports every example document of examples/policies
// to every format and compares the YAML with testdata/golden (go test
// -update rewrites them).
func TestGoldenExamples(t *testing.T) {
	for name, path := range exampleDocuments(t) {
		doc := loadDocument(t, path)
		for _, f := range Formats {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				res, err := Export(doc, f, Options{})
				if err != nil {
					t.Fatal(err)
				}
				got, err := res.YAML()
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", name+"."+string(f)+".yaml")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to write it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the export; run go test -update and review the diff\n--- got\n%s", golden, got)
				}
			})
		}
	}
}
