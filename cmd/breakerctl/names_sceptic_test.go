package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// oddNames are guard names that a path must carry as one segment: dot
// segments, slashes, an escaped slash, a percent, braces, spaces, unicode.
var oddNames = []string{".", "..", "/pkg.Svc/Method", "a/../b", "a//b", "../x", "100% sure", "inv/a b%2F{x}/ü"}

// TestMachineAndFleetCommandsReachOddNames: breakerctl machine show and
// machine set, and fleet act --target, reach guards with odd names
// through a ServeMux that cleans paths, and move that guard, not another.
func TestMachineAndFleetCommandsReachOddNames(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "m", Match: []string{"**"}, Breaker: &core.BreakerPolicy{Mode: "disabled"}, Machine: &core.MachinePolicy{
		Initial: "healthy",
		States:  []core.MachineState{{Name: "healthy", Manual: true}, {Name: "maintenance", Admit: "none", Manual: true}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	decoys := []string{"pkg.Svc/Method", "a/b", "b", "x", "state"}
	for _, n := range append(append([]string{}, oddNames...), decoys...) {
		reg.MustGuard(n)
	}
	ag, err := fleet.Join(reg, fleet.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	srv, err := admin.New(reg, admin.WithToken("alice", "alice-secret-0123456789", admin.Write), admin.WithFleet(ag))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	env := func(k string) string {
		if k == "BREAKERBOX_TOKEN" {
			return "alice-secret-0123456789"
		}
		return ""
	}
	ctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(args, "--addr", ts.URL+"/admin"), nil, &out, &errOut, env)
		return code, out.String(), errOut.String()
	}
	for _, name := range oddNames {
		code, out, errOut := ctl("machine", "show", name, "--json")
		var l wire.MachineList
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Machines) != 1 || l.Machines[0].Guard != name {
			t.Errorf("machine show %q: exit %d, machines %+v, stderr %q", name, code, l.Machines, errOut)
		}
		code, out, errOut = ctl("machine", "set", name, "maintenance", "--reason", "sceptic", "--json")
		var res wire.MachineStateResult
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Guard != name || res.To != "maintenance" {
			t.Errorf("machine set %q: exit %d, result %+v, stderr %q", name, code, res, errOut)
		}
		if s := reg.MustGuard(name).Machine().State(); s != "maintenance" {
			t.Errorf("after machine set %q the guard is in %q", name, s)
		}
		code, out, errOut = ctl("fleet", "act", "--target", "name:"+name, "--action", "force-open", "--reason", "sceptic", "--json")
		if code != 0 || !strings.Contains(out, "force-open") {
			t.Errorf("fleet act on %q: exit %d, out %q, stderr %q", name, code, out, errOut)
		}
	}
	for _, n := range decoys {
		if s := reg.MustGuard(n).Machine().State(); s != "healthy" {
			t.Errorf("decoy %q moved to %q by a command naming another guard", n, s)
		}
		if s := reg.MustGuard(n).Breaker().State(); s == breaker.ForcedOpen {
			t.Errorf("decoy %q is %s after fleet acts naming other guards", n, s)
		}
	}
}
