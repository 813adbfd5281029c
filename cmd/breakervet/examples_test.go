package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// examplesFindings is what breakervet reports on the repository's examples
// module, as file and message prefix (lines move; these do not). Each is
// deliberate; a change to the examples that adds or removes a finding
// fails TestExamplesFindings until this list is updated.
var examplesFindings = []string{
	// The examples call their own in-process httptest servers.
	"graphql/main.go: http.Post sends through http.DefaultClient",
	"httpserver/main.go: http.Get sends through http.DefaultClient",
	// The storefront gateway's connection to the inventory service has no
	// client interceptors: the inventory server guards its side.
	"storefront/main.go: grpc.NewClient creates a client without breakerbox's interceptors",
	// The demo's load generator drives the storefront: it is the traffic,
	// not a dependency to protect.
	"storefront/main.go: http.Client Transport is not wrapped",
	// The fleet mode's load generator, likewise.
	"storefront/fleet.go: http.Client Transport is not wrapped",
	// Test clients of the demo's own servers.
	"storefront/e2e_test.go: http.Client has no Transport",
	"storefront/faults_test.go: http.Post sends through http.DefaultClient",
}

// TestExamplesFindings builds breakervet and runs it as a vet tool over the
// repository's examples module; its findings must be the expected ones.
func TestExamplesFindings(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build and run breakervet: %v", err)
	}
	tool := filepath.Join(t.TempDir(), "breakervet")
	if out, err := exec.Command(gobin, "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, "vet", "-vettool="+tool, "-json", "./...")
	cmd.Dir = examples
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("go vet -vettool: %v\n%s", err, stderr.Bytes())
	}
	elapsed := time.Since(start)

	got, err := parseVetJSON(examples, io.MultiReader(&stdout, &stderr))
	if err != nil {
		t.Fatalf("reading go vet -json output: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("breakervet on examples: %d findings in %v (go vet, build cache warm after the first run)", len(got), elapsed.Round(time.Millisecond))

	var missing []string
	for _, want := range examplesFindings {
		file, prefix, _ := strings.Cut(want, ": ")
		i := slices.IndexFunc(got, func(f vetFinding) bool { return f.file == file && strings.HasPrefix(f.message, prefix) })
		if i < 0 {
			missing = append(missing, want)
			continue
		}
		got = slices.Delete(got, i, i+1)
	}
	for _, f := range got {
		t.Errorf("unexpected finding: %s:%d: %s", f.file, f.line, f.message)
	}
	for _, m := range missing {
		t.Errorf("expected finding not reported: %s", m)
	}

	// The analyzer's flags pass through go vet: allow-listing http.Get
	// drops the httpserver example's one finding.
	cmd = exec.Command(gobin, "vet", "-vettool="+tool, "-json", "-allow=net/http.Get", "./httpserver")
	cmd.Dir = examples
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go vet -vettool -allow: %v\n%s", err, out)
	}
	if got, err := parseVetJSON(examples, bytes.NewReader(out)); err != nil || len(got) != 0 {
		t.Errorf("go vet -allow=net/http.Get ./httpserver: findings %v, error %v, want none", got, err)
	}
}

// vetFinding is one diagnostic of go vet -json, its file relative to the
// module.
type vetFinding struct {
	file    string
	line    int
	message string
}

// parseVetJSON reads go vet -json output: "# package" comment lines and a
// stream of JSON objects, package -> analyzer -> diagnostics. A diagnostic
// reported in both a package and its test variant is kept once.
func parseVetJSON(root string, r io.Reader) ([]vetFinding, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	for line := range bytes.Lines(raw) {
		if !bytes.HasPrefix(line, []byte("#")) {
			body.Write(line)
		}
	}
	type diag struct {
		Posn    string `json:"posn"`
		Message string `json:"message"`
	}
	seen := make(map[string]bool)
	var out []vetFinding
	dec := json.NewDecoder(&body)
	for {
		var obj map[string]map[string]json.RawMessage
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		for _, analyzers := range obj {
			for name, msg := range analyzers {
				var ds []diag
				if err := json.Unmarshal(msg, &ds); err != nil {
					// An analyzer error is an object, not a list.
					return nil, errors.New(name + ": " + string(msg))
				}
				for _, d := range ds {
					if seen[d.Posn+d.Message] {
						continue
					}
					seen[d.Posn+d.Message] = true
					f, err := splitPosn(root, d.Posn)
					if err != nil {
						return nil, err
					}
					f.message = d.Message
					out = append(out, f)
				}
			}
		}
	}
	return out, nil
}

// splitPosn splits file:line:col into a file relative to root and a line.
func splitPosn(root, posn string) (vetFinding, error) {
	parts := strings.Split(posn, ":")
	if len(parts) < 3 {
		return vetFinding{}, errors.New("position " + posn + " is not file:line:column")
	}
	file := strings.Join(parts[:len(parts)-2], ":")
	if rel, err := filepath.Rel(root, file); err == nil {
		file = filepath.ToSlash(rel)
	}
	line, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return vetFinding{}, errors.New("position " + posn + " has no line number")
	}
	return vetFinding{file: file, line: line}, nil
}
