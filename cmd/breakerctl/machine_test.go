package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin/wire"
)

func TestMachineCommands(t *testing.T) {
	addr := startServer(t, "-machine")
	read, write := envFor(addr, readToken), envFor(addr, aliceToken)

	r := ctl(t, read, "machine", "list").want(t, 0)
	if !strings.Contains(r.stdout, "inventory") || !strings.Contains(r.stdout, "healthy") {
		t.Fatalf("list:\n%s", r.stdout)
	}
	r = ctl(t, read, "machine", "show", "inventory").want(t, 0)
	for _, want := range []string{"state healthy", "* healthy (all, initial)", "degraded (percent 50)", "maintenance (none, manual)",
		"healthy -> degraded when failureRate >= 0.5 and calls >= 4", "stateDiagram-v2", "class healthy current"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := ctl(t, read, "machine", "show", "search").want(t, exitRefused); !strings.Contains(r.stderr, "no custom states") {
		t.Errorf("show of a guard without a machine: %s", r.stderr)
	}
	if r := ctl(t, read, "machine", "diagram", "inventory", "--format", "dot").want(t, 0); !strings.Contains(r.stdout, `"healthy" [label="healthy\nall", style="rounded,filled"`) {
		t.Errorf("dot:\n%s", r.stdout)
	}

	// Moving the state: a reason and a write token are needed; an unknown
	// state is named.
	ctl(t, write, "machine", "set", "inventory", "maintenance").want(t, exitUsage)
	if r := ctl(t, read, "machine", "set", "inventory", "maintenance", "--reason", "x").want(t, exitRefused); !strings.Contains(r.stderr, "403") && !strings.Contains(strings.ToLower(r.stderr), "forbidden") && !strings.Contains(r.stderr, "write") {
		t.Errorf("set with a read token: %s", r.stderr)
	}
	if r := ctl(t, write, "machine", "set", "inventory", "sick", "--reason", "x").want(t, exitRefused); !strings.Contains(r.stderr, `"sick"`) {
		t.Errorf("set of an unknown state: %s", r.stderr)
	}
	r = ctl(t, write, "machine", "set", "inventory", "maintenance", "--reason", "db upgrade").want(t, 0)
	if !strings.Contains(r.stdout, "inventory: healthy -> maintenance (audit #") {
		t.Errorf("set:\n%s", r.stdout)
	}
	var l wire.MachineList
	ctl(t, read, "machine", "list", "--json").want(t, 0).json(t, &l)
	if len(l.Machines) != 1 || l.Machines[0].Status.State != "maintenance" {
		t.Fatalf("after set: %+v", l.Machines)
	}
	if r := ctl(t, read, "audit").want(t, 0); !strings.Contains(r.stdout, "machine-state") || !strings.Contains(r.stdout, "db upgrade") {
		t.Errorf("audit:\n%s", r.stdout)
	}
}

// diagram --policy draws a policy file's machines offline, and a file
// whose machine has a state with no way out is refused naming it.
func TestMachineDiagramFromFile(t *testing.T) {
	r := ctl(t, nil, "machine", "diagram", "--policy", "../../examples/policies/custom-states.yaml").want(t, 0)
	for _, want := range []string{"%% policy inventory\nstateDiagram-v2\n", "    [*] --> healthy\n", "    readOnly --> degraded : after 1m0s\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ctl(t, nil, "machine", "diagram", "--policy", "../../examples/policies/custom-states.yaml", "--format", "dot", "--name", "inventory").want(t, 0)
	if !strings.HasPrefix(r.stdout, "// policy inventory\ndigraph \"inventory\" {") {
		t.Errorf("dot:\n%s", r.stdout)
	}
	ctl(t, nil, "machine", "diagram", "--policy", "../../examples/policies/custom-states.yaml", "--format", "svg").want(t, exitUsage)
	ctl(t, nil, "machine", "diagram", "--policy", "../../examples/policies/tenants.yaml").want(t, exitRefused)

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	doc := `policies:
  - name: api
    machine:
      initial: healthy
      states: [{name: healthy}, {name: stuck, admit: none}]
      transitions: [{from: healthy, to: stuck, when: {consecutiveFailures: 5}}]
`
	if err := os.WriteFile(bad, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r = ctl(t, nil, "machine", "diagram", "--policy", bad).want(t, exitRefused)
	if !strings.Contains(r.stderr, `policies[0].machine.states[1].name: "stuck" has no way out`) || !strings.Contains(r.stderr, "bad.yaml:5:") {
		t.Errorf("refused file:\n%s", r.stderr)
	}
}
