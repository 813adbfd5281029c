package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	simPolicy   = "../../examples/scenarios/policy.yaml"
	simScenario = "../../examples/scenarios/outage.yaml"
)

// TestSimulateWritesChartsAndSummary runs the cobra command on the example
// scenario into a temp dir: the summary is printed, the PNG decodes, the
// SVG is an SVG, and a second run writes the same bytes.
func TestSimulateWritesChartsAndSummary(t *testing.T) {
	dir := t.TempDir()
	files := func(run string) (string, string) {
		return filepath.Join(dir, run+".png"), filepath.Join(dir, run+".svg")
	}
	var outs [2][2][]byte
	for i, run := range []string{"a", "b"} {
		p, s := files(run)
		r := policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", simScenario, "--out-png", p, "--out-svg", s).want(t, exitOK)
		contains(t, "simulate's summary", r.stdout, "guard payments (policy payments), 10m0s simulated, seed 42", "trips", "retries", "p99")
		var err error
		if outs[i][0], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
		if outs[i][1], err = os.ReadFile(s); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[0][0], outs[1][0]) || !bytes.Equal(outs[0][1], outs[1][1]) {
		t.Fatal("two runs of one scenario wrote different charts")
	}
	img, err := png.Decode(bytes.NewReader(outs[0][0]))
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 400 {
		t.Fatalf("the PNG is %v", b)
	}
	contains(t, "the SVG", string(outs[0][1]), "<svg", "Failure rate", "stopped by budget")
}

// TestSimulateJSONAndFlags: --json prints the timeline; --seed and --guard
// override the scenario's.
func TestSimulateJSONAndFlags(t *testing.T) {
	r := policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", simScenario, "--json", "--seed", "7", "--guard", "payments").want(t, exitOK)
	var tl struct {
		Guard  string `json:"guard"`
		Seed   uint64 `json:"seed"`
		Points []struct {
			State string `json:"state"`
		} `json:"points"`
		Summary struct {
			Calls int `json:"calls"`
			Trips int `json:"trips"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &tl); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	if tl.Guard != "payments" || tl.Seed != 7 || len(tl.Points) != 120 || tl.Summary.Calls == 0 || tl.Summary.Trips == 0 {
		t.Fatalf("timeline: guard %q, seed %d, %d points, summary %+v", tl.Guard, tl.Seed, len(tl.Points), tl.Summary)
	}
	r = policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", simScenario, "--guard", "search").want(t, exitOK)
	contains(t, "a guard no policy matches", r.stdout, `note: no policy of the document matches guard "search"`)
}

// TestSimulateRefuses: bad scenarios and policies are refused with their
// line named; missing flags and files are usage errors.
func TestSimulateRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"bad.yaml":      "duration: 10m\ntraffic: 10\nfailureRate: 1.5\nphases:\n  - {from: 2m, to: 1m}\n",
		"hostile.yaml":  "a: &a [1]\nb: *a\n",
		"truncated.yml": "duration: 10m\ntraffic: {from: 1,\n",
		"policy.yaml":   "policies:\n  - name: p\n    breaker:\n      openDuration: 10x\n",
	})
	bad := filepath.Join(dir, "bad.yaml")
	r := policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", bad).want(t, exitRefused)
	contains(t, "a bad scenario's errors", r.stderr, bad+":3:14: failureRate: 1.5 is a share of calls", bad+":5:20: phases[0].to: 1m0s must be after from (2m0s)", "2 problems")
	r = policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", filepath.Join(dir, "hostile.yaml")).want(t, exitRefused)
	contains(t, "a hostile scenario's error", r.stderr, "hostile.yaml:1:4: YAML anchors, aliases and merge keys are not allowed")
	r = policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", filepath.Join(dir, "truncated.yml")).want(t, exitRefused)
	contains(t, "a truncated scenario's error", r.stderr, "truncated.yml:2: invalid YAML")
	r = policyCtl(nil, "simulate", "--policy", filepath.Join(dir, "policy.yaml"), "--scenario", simScenario).want(t, exitRefused)
	contains(t, "a bad policy's error", r.stderr, "policy.yaml:4:21: policies[0].breaker.openDuration")
	policyCtl(nil, "simulate", "--policy", simPolicy).want(t, exitUsage)
	policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", filepath.Join(dir, "missing.yaml")).want(t, exitUsage)
	r = policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", simScenario, "--out-png", filepath.Join(dir, "no", "such", "dir.png")).want(t, exitRefused)
	contains(t, "an unwritable chart", r.stderr, "dir.png")
}

// TestSimulateDoesNotPullFailsafe: the simulation engine lives in the sim
// module beside the adaptive-limiter comparison, which imports
// failsafe-go; breakerctl must not depend on that.
func TestSimulateDoesNotPullFailsafe(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, d := range strings.Fields(string(out)) {
		if strings.Contains(d, "failsafe-go") || d == "github.com/breakerbox/breakerbox/sim" {
			t.Errorf("breakerctl depends on %s", d)
		}
	}
}

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/img/simulate-outage.{png,svg} from the example scenario")

// TestSimulateDocsChart: the chart in docs/simulate.md is what
// `breakerctl simulate` draws for the example scenario and policy, byte for
// byte (go test -run DocsChart -update-docs rewrites it).
func TestSimulateDocsChart(t *testing.T) {
	dir := t.TempDir()
	p, s := filepath.Join(dir, "o.png"), filepath.Join(dir, "o.svg")
	policyCtl(nil, "simulate", "--policy", simPolicy, "--scenario", simScenario, "--out-png", p, "--out-svg", s).want(t, exitOK)
	for _, f := range []struct{ got, doc string }{{p, "../../docs/img/simulate-outage.png"}, {s, "../../docs/img/simulate-outage.svg"}} {
		got, err := os.ReadFile(f.got)
		if err != nil {
			t.Fatal(err)
		}
		if *updateDocs {
			if err := os.WriteFile(f.doc, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(f.doc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what breakerctl simulate draws now; rerun with -update-docs", f.doc)
		}
	}
}
