package main

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance"
)

// Issue 23: breakerctl maintenance list|add|delete against a real admin
// API (httptest) driving a real scheduler and registry.
func TestMaintenanceAddListDelete(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("postgres")
	s := maintenance.New(reg)
	s.Start()
	t.Cleanup(s.Close)
	api, err := admin.New(reg, admin.WithToken("alice", aliceToken, admin.Write), admin.WithToken("grafana", readToken, admin.Read), admin.WithMaintenance(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	env := map[string]string{envAddr: srv.URL, envToken: aliceToken}

	now := time.Now()
	r := policyCtl(env, "maintenance", "add", "pg17", "--guard", "postgres", "--start", now.Add(-time.Minute).Format(time.RFC3339), "--end", now.Add(time.Hour).Format(time.RFC3339), "--reason", "postgres 17")
	if r.code != 0 {
		t.Fatalf("add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	contains(t, "add", r.stdout, "added window pg17 (open), active now")
	if got := reg.MustGuard("postgres").Breaker().State(); got != breaker.ForcedOpen {
		t.Fatalf("postgres is %s", got)
	}
	r = policyCtl(env, "maintenance", "add", "nightly", "--tag", "db", "--schedule", "30 2 * * *", "--duration", "1h", "--tz", "Europe/Berlin", "--reason", "vacuum")
	if r.code != 0 {
		t.Fatalf("add nightly: %d %s", r.code, r.stderr)
	}
	r = policyCtl(env, "maintenance", "list")
	contains(t, "list", r.stdout, "pg17", "guard postgres", "active", "nightly", "tag db", "30 2 * * * for 1h (Europe/Berlin)", "upcoming", "alice")

	// Bad input: refused with the field and the value.
	r = policyCtl(env, "maintenance", "add", "bad", "--guard", "postgres", "--schedule", "99 * * * *", "--duration", "1h", "--tz", "Mars/Base", "--reason", "x")
	if r.code == 0 {
		t.Fatal("a bad window was accepted")
	}
	contains(t, "bad add", r.stderr, `timeZone: "Mars/Base"`, `schedule: "99 * * * *"`)
	r = policyCtl(env, "maintenance", "add", "late", "--guard", "postgres", "--start", now.Add(2*time.Hour).Format(time.RFC3339), "--end", now.Add(time.Hour).Format(time.RFC3339), "--reason", "x")
	contains(t, "end before start", r.stderr, "end: ", "ends before it starts")

	r = policyCtl(env, "maintenance", "delete", "pg17", "--reason", "done")
	if r.code != 0 {
		t.Fatalf("delete: %d %s", r.code, r.stderr)
	}
	if got := reg.MustGuard("postgres").Breaker().State(); got != breaker.Closed {
		t.Fatalf("postgres is %s after delete", got)
	}
	r = policyCtl(env, "maintenance", "delete", "pg17", "--reason", "again")
	if r.code == 0 {
		t.Fatal("deleting an unknown window succeeded")
	}
}
