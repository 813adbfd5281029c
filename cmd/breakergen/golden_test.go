package main

import (
	"bytes"
	"flag"
	"go/format"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCases are the packages under testdata/golden, with the -type (and
// -decorator) each is generated for.
var goldenCases = []struct {
	dir, typ, decorator string
}{
	{"mixed", "Store", ""},
	{"collide", "Client", ""},
	{"plain", "Pinger", "CheckedPinger"},
}

// TestGolden generates the decorator of each testdata/golden package and
// compares it with <package>.golden; -update rewrites the golden files. The
// output must be gofmt-clean and must compile with the package.
func TestGolden(t *testing.T) {
	overlay := map[string][]byte{}
	var dirs []string
	for _, c := range goldenCases {
		t.Run(c.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "golden", c.dir)
			o := options{typeName: c.typ, decorator: c.decorator, dir: dir, output: filepath.Join(dir, strings.ToLower(c.typ)+"_guard.go")}
			got, err := generateFor(o, commandLine(o))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", c.dir+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o666); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("generated code differs from %s (go test -update rewrites it):\n%s", golden, lineDiff(string(want), string(got)))
			}
			if formatted, err := format.Source(got); err != nil || !bytes.Equal(formatted, got) {
				t.Errorf("generated code is not gofmt-clean (err %v)", err)
			}
			abs, err := filepath.Abs(o.output)
			if err != nil {
				t.Fatal(err)
			}
			overlay[abs] = got
			dirs = append(dirs, "./"+filepath.ToSlash(dir))
		})
	}
	compiles(t, ".", overlay, dirs...)
}

// TestExampleIsUpToDate regenerates example/payments/paymentclient_guard.go
// as its go:generate line does and compares it with the committed file.
func TestExampleIsUpToDate(t *testing.T) {
	dir := filepath.Join("example", "payments")
	src, err := os.ReadFile(filepath.Join(dir, "payments.go"))
	if err != nil {
		t.Fatal(err)
	}
	const line = "//go:generate go run github.com/breakerbox/breakerbox/cmd/breakergen -type PaymentClient\n"
	if !bytes.Contains(src, []byte(line)) {
		t.Fatalf("payments.go lost its go:generate line %q", line)
	}
	o := options{typeName: "PaymentClient", dir: dir, output: filepath.Join(dir, "paymentclient_guard.go")}
	got, err := generateFor(o, commandLine(o))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(o.output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale; run go generate ./example/...:\n%s", o.output, lineDiff(string(want), string(got)))
	}
}

// compiles type-checks the packages (patterns relative to dir) with the
// generated files of overlay added, failing on any error.
func compiles(t *testing.T, dir string, overlay map[string][]byte, patterns ...string) {
	t.Helper()
	cfg := &packages.Config{
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes,
		Dir:     dir,
		Overlay: overlay,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(patterns) {
		t.Fatalf("loaded %d packages, want %d", len(pkgs), len(patterns))
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Errorf("generated code does not compile: %v", e)
		}
	}
}

// lineDiff shows the lines of want and got from the first that differs.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + wl + "\ngot:  " + gl
		}
	}
	return "(no line differs)"
}
