package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/mesh"
)

const meshDoc = "testdata/mesh/shop.yaml"

func TestMeshExportWritesEachFormat(t *testing.T) {
	for format, kinds := range map[string][]string{
		"istio":   {"kind: DestinationRule", "kind: VirtualService", "host: inventory"},
		"linkerd": {"kind: HTTPRoute", "kind: Service", "balancer.linkerd.io/failure-accrual: consecutive", `retry.linkerd.io/limit: "2"`},
		"envoy":   {"name: inventory", "consecutive_5xx: 5", "max_requests: 20"},
	} {
		code, stdout, stderr := runCtl(nil, "mesh", "export", "--format", format, "--policy", meshDoc, "--service", "inventory")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, code, stderr)
		}
		if !strings.HasPrefix(stdout, "# breakerctl mesh export --format "+format+"\n# Loss report") {
			t.Errorf("%s: output does not start with the loss report:\n%s", format, stdout)
		}
		for _, want := range kinds {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: output lacks %q:\n%s", format, want, stdout)
			}
		}
		if !strings.Contains(stderr, "loss report:") || !strings.Contains(stderr, "lost") {
			t.Errorf("%s: stderr %q, want the summary", format, stderr)
		}
	}
}

func TestMeshExportWarnsOfMultipliedRetries(t *testing.T) {
	code, stdout, stderr := runCtl(nil, "mesh", "export", "--format", "istio", "--policy", meshDoc)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "inventory: retry.maxAttempts: warning: mesh retries multiply application retries") || !strings.Contains(stdout, "3 × 3 = 9") {
		t.Errorf("no multiplication warning for inventory:\n%s", stdout)
	}
	// inventory-reserve extends inventory with one attempt: Istio's default
	// retries must be off for it.
	if !strings.Contains(stdout, "name: inventory-reserve") || strings.Contains(stdout, "inventory-reserve: retry.maxAttempts: warning") {
		t.Errorf("inventory-reserve exported wrongly:\n%s", stdout)
	}
}

func TestMeshExportLossReportJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "loss.json")
	code, _, stderr := runCtl(nil, "mesh", "export", "--format", "envoy", "--policy", meshDoc, "--loss-report", file)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var loss []mesh.Loss
	if err := json.Unmarshal(data, &loss); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	var wholeService bool
	for _, l := range loss {
		if l.Policy == "inventory" && l.Field == "breaker" && l.Kind == mesh.Lost && strings.Contains(l.Message, "whole service") {
			wholeService = true
		}
	}
	if !wholeService {
		t.Errorf("no whole-service loss for inventory in %s", data)
	}
}

func TestMeshExportRefusesBadInput(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--format", "nginx", "--policy", meshDoc}, exitUsage, `--format: "nginx"`},
		{[]string{"--policy", meshDoc}, exitUsage, `--format: ""`},
		{[]string{"--format", "istio"}, exitUsage, "--policy FILE|DIR is required"},
		{[]string{"--format", "istio", "--policy", meshDoc, "--port", "70000"}, exitUsage, "--port: 70000"},
		{[]string{"--format", "istio", "--policy", meshDoc, "--service", "payments"}, exitUsage, `"payments"`},
		{[]string{"--format", "istio", "--policy", meshDoc, "--service", "Not A Host"}, exitUsage, `service "Not A Host"`},
		{[]string{"--format", "istio", "--policy", "testdata/mesh/missing.yaml"}, exitUsage, "missing.yaml"},
		{[]string{"--format", "istio", "--policy", "testdata/mesh/bad.yaml"}, exitRefused, "bad.yaml:4:21: policies[0].breaker.openDuration"},
	}
	for _, c := range cases {
		code, stdout, stderr := runCtl(nil, append([]string{"mesh", "export"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %s", c.args, code, stderr, c.code, c.want)
		}
		if stdout != "" {
			t.Errorf("%v: wrote %q to stdout on error", c.args, stdout)
		}
	}
}

// The command prints, for each example document read through policyfile,
// what the mesh module's golden files hold (those are made from the same
// documents read as plain YAML).
func TestMeshExportOfTheExamplesMatchesTheGoldenFiles(t *testing.T) {
	examples := map[string]string{
		"checkout": "../../examples/policies/checkout.yaml", "tenants": "../../examples/policies/tenants.yaml",
		"variants": "../../examples/policies/variants.yaml", "storefront": "../../examples/policies/storefront",
	}
	for name, path := range examples {
		for _, f := range mesh.Formats {
			code, stdout, stderr := runCtl(nil, "mesh", "export", "--format", string(f), "--policy", path)
			if code != exitOK {
				t.Errorf("%s %s: exit %d: %s", name, f, code, stderr)
				continue
			}
			want, err := os.ReadFile(filepath.Join("../../mesh/testdata/golden", name+"."+string(f)+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if stdout != string(want) {
				t.Errorf("%s %s: the output differs from mesh/testdata/golden", name, f)
			}
		}
	}
}
