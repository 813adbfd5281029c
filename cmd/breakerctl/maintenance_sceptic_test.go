package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance"
)

// TestMaintenanceDeleteDotNames: windows may be called "." and ".." (the
// name allows dots); breakerctl maintenance delete reaches them through a
// ServeMux that cleans paths.
func TestMaintenanceDeleteDotNames(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("postgres")
	s := maintenance.New(reg)
	s.Start()
	t.Cleanup(s.Close)
	api, err := admin.New(reg, admin.WithToken("alice", aliceToken, admin.Write), admin.WithMaintenance(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", api))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env := map[string]string{envAddr: srv.URL + "/admin", envToken: aliceToken}
	now := time.Now()
	for _, name := range []string{".", ".."} {
		r := policyCtl(env, "maintenance", "add", name, "--guard", "postgres", "--start", now.Add(-time.Minute).Format(time.RFC3339), "--end", now.Add(time.Hour).Format(time.RFC3339), "--reason", "x")
		if r.code != 0 {
			t.Fatalf("add %q: %d %s", name, r.code, r.stderr)
		}
		r = policyCtl(env, "maintenance", "delete", name, "--reason", "done")
		if r.code != 0 {
			t.Errorf("delete %q: %d %s", name, r.code, r.stderr)
		}
	}
	if ws := s.Windows(); len(ws) != 0 {
		t.Fatalf("windows left: %+v", ws)
	}
	if got := reg.MustGuard("postgres").Breaker().State(); got != breaker.Closed {
		t.Fatalf("postgres is %s", got)
	}
}
