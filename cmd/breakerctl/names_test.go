package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// Issue 15, item 6: breakerctl escaped guard names with url.PathEscape,
// which leaves "." and ".." as they are; a ServeMux in front of the admin
// API then cleaned them away and the request named another path.
func TestStatusReachesGuardsWithOddNames(t *testing.T) {
	names := []string{".", "..", "/pkg.Svc/Method", "a/../b", "a//b", "../x", "100% sure"}
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(names, "pkg.Svc/Method", "a/b", "b", "x") {
		reg.MustGuard(n)
	}
	srv, err := admin.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	env := func(string) string { return "" }
	for _, name := range names {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"status", name, "--json", "--addr", ts.URL + "/admin"}, nil, &out, &errOut, env)
		var g wire.GuardStatus
		if code != 0 || json.Unmarshal(out.Bytes(), &g) != nil || g.Name != name {
			t.Errorf("status %q: exit %d, guard %q, stderr %q", name, code, g.Name, errOut.String())
		}
	}
}
