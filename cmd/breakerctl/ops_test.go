package main

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/maintenance"
)

// breakerctl policy lint reports a malformed cron expression of a
// document's maintenance window, and a chaos rate above 1, with their
// places, field paths and values.
func TestLintOperationsSections(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cron.yaml": `policies:
  - name: db
maintenance:
  - name: nightly
    guards: [db]
    mode: forced-open
    schedule: "0 25 * * *"
    duration: 1h
`,
		"chaos.yaml": `policies:
  - name: db
chaos:
  - id: x
    fault: reject
    rate: 1.5
    duration: 5m
`,
	})
	r := policyCtl(nil, "policy", "lint", filepath.Join(dir, "cron.yaml"), filepath.Join(dir, "chaos.yaml")).want(t, exitRefused)
	contains(t, "lint output", r.stdout,
		filepath.Join(dir, "cron.yaml")+`:7:15: maintenance[0].schedule: is not a five-field cron expression`,
		`(value "0 25 * * *")`,
		filepath.Join(dir, "chaos.yaml")+`:6:11: chaos[0].rate:`,
	)
}

// A window of the policy document is listed with its guards and the
// version it comes from.
func TestMaintenanceListShowsPolicyWindows(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	s, err := maintenance.Open(reg, maintenance.FollowPolicy())
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	doc := core.Document{Policies: []core.Policy{{Name: "db", Match: []string{"db.*"}}}, Maintenance: []core.MaintenanceWindow{
		{Name: "vacuum", Guards: []string{"db.main", "db.replica"}, Mode: "metrics-only", Schedule: "@daily", Duration: core.Duration(time.Hour)},
	}}
	if _, err := reg.Apply(doc, core.AppliedBy("carol")); err != nil {
		t.Fatal(err)
	}
	api, err := admin.New(reg, admin.WithToken("grafana", readToken, admin.Read), admin.WithMaintenance(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	r := policyCtl(map[string]string{envAddr: srv.URL, envToken: readToken}, "maintenance", "list")
	contains(t, "list", r.stdout, "vacuum", "guards db.main,db.replica", "metrics-only", "carol (policy v1)")
}
