package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// Mount the admin API under /admin/ and operate a group of guards.
func Example() {
	reg, _ := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "payments", Match: []string{"payments.*"}, Tags: []string{"stripe"}, Critical: true},
	))
	reg.MustGuard("payments.charge")
	reg.MustGuard("payments.refund")

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(reg,
		admin.WithToken("alice", "s3cret-s3cret-s3cret", admin.Write),
	)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `{"tag": "stripe", "reason": "provider maintenance", "duration": "30m"}`
	req, _ := http.NewRequest("POST", srv.URL+"/admin/v1/operations/open", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer s3cret-s3cret-s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var out admin.OperationResult
	_ = json.NewDecoder(res.Body).Decode(&out)
	fmt.Println(res.Status, "audit record", out.AuditSeq, "by", out.Actor)
	for _, c := range out.Changes {
		fmt.Println(c.Guard, c.From, "->", c.To)
	}

	ready, _ := http.Get(srv.URL + "/admin/ready")
	ready.Body.Close()
	fmt.Println("ready:", ready.Status)
	// Output:
	// 200 OK audit record 1 by alice
	// payments.charge closed -> open
	// payments.refund closed -> open
	// ready: 503 Service Unavailable
}

// Mount the admin API under /admin/ with the tokens from the environment
// and every write audited to a file.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "breakerbox-audit")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// As a deployment sets it: name:access:secret, comma-separated.
	os.Setenv("BREAKERBOX_ADMIN_TOKENS", "alice:write:s3cret-s3cret-s3cret")
	defer os.Unsetenv("BREAKERBOX_ADMIN_TOKENS")
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	reg.MustGuard("payments.charge")
	mux := http.NewServeMux()

	fileSink, err := admin.NewFileSink(filepath.Join(dir, "audit.jsonl"), admin.FileSinkOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer fileSink.Close()
	srv, err := admin.New(reg, admin.WithTokensFromEnv(), admin.WithAuditSink(fileSink))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))

	ts := httptest.NewServer(mux)
	defer ts.Close()
	body := `{"name": "payments.charge", "reason": "provider maintenance"}`
	req, err := http.NewRequest("POST", ts.URL+"/admin/v1/operations/disable", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer s3cret-s3cret-s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status)

	page, err := fileSink.ReadAudit(context.Background(), admin.AuditQuery{})
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range page.Records {
		fmt.Println(rec.Seq, rec.Actor, rec.Op, rec.Target, rec.Reason, rec.After[0].State)
	}
	// Output:
	// 200 OK
	// 1 alice disable name "payments.charge" provider maintenance disabled
}

func ExampleParseTokens() {
	ts, err := admin.ParseTokens("alice:write:0123456789abcdef, grafana:read:fedcba9876543210")
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range ts {
		fmt.Println(t.Name, t.Access)
	}
	// Output:
	// alice write
	// grafana read
}

// Serve the health endpoints on their own, for probes.
func ExampleHealthHandler() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{Name: "db", Critical: true}))
	reg.MustGuard("db").ForceOpen(breaker.Manual{Actor: "ops", Reason: "failover"})
	reg.MustGuard("cache")

	srv := httptest.NewServer(admin.HealthHandler(reg))
	defer srv.Close()
	for _, path := range []string{"/health", "/ready", "/live"} {
		res, _ := http.Get(srv.URL + path)
		var h admin.Health
		_ = json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		fmt.Println(path, res.StatusCode, h.Status, h.Output)
	}
	// Output:
	// /health 503 fail critical guards open: db
	// /ready 503 fail critical guards open: db
	// /live 200 pass
}

// Serve the dashboard with its history kept from the start, and stop its
// sampler when done.
func ExampleServer_Start() {
	reg, _ := core.NewRegistry()
	reg.MustGuard("payments.charge")

	srv, err := admin.New(reg, admin.WithToken("alice", "s3cret-s3cret-s3cret", admin.Write), admin.WithOpenRead())
	if err != nil {
		log.Fatal(err)
	}
	srv.Start()       // keep history from now on, not from the first request
	defer srv.Close() // stop the sampler, end the event streams

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	page, _ := http.Get(ts.URL + "/admin/")
	page.Body.Close()
	fmt.Println("dashboard:", page.Status, page.Header.Get("Content-Type"))

	var id admin.Identity
	res, _ := http.Get(ts.URL + "/admin/v1/whoami")
	_ = json.NewDecoder(res.Body).Decode(&id)
	res.Body.Close()
	fmt.Printf("without a token: %s, %s access\n", id.Actor, id.Access)
	// Output:
	// dashboard: 200 OK text/html; charset=utf-8
	// without a token: anonymous, read access
}

// oneReplica stands in for a fleet agent (*fleet.Agent from fleet.Join) in
// this example: a fleet of one whose store keeps the actions it is given.
type oneReplica struct{ acts []fleet.Override }

func (f *oneReplica) Snapshot() fleet.Snapshot {
	self := fleet.Member{ID: "web-1", Region: "eu-west-1"}
	return fleet.Snapshot{Self: self, Members: []fleet.Member{self}, Overrides: f.acts, Store: f.Health()}
}

func (f *oneReplica) Act(_ context.Context, o fleet.Override) (fleet.Override, error) {
	o.Version, o.By = uint64(len(f.acts)+1), "web-1"
	f.acts = append(f.acts, o)
	return o, nil
}

func (f *oneReplica) Health() fleet.StoreHealth { return fleet.StoreHealth{Up: true} }

// Attach a fleet agent and take an action for every replica: the answer is
// the action as the store holds it, with the version that orders it across
// the fleet.
func ExampleWithFleet() {
	reg, _ := core.NewRegistry()
	reg.MustGuard("payments.charge")
	var agent admin.Fleet = &oneReplica{} // in a service: agent, err := fleet.Join(reg, store)
	srv := httptest.NewServer(admin.Handler(reg,
		admin.WithToken("alice", "s3cret-s3cret-s3cret", admin.Write),
		admin.WithFleet(agent),
	))
	defer srv.Close()

	body := `{"target": "tag:stripe", "action": "force-open", "reason": "incident 4711"}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/fleet/actions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer s3cret-s3cret-s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var out admin.FleetActionResult
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		log.Fatal(err)
	}
	o := out.Override
	fmt.Println(res.Status, o.Version, o.Action, o.Target, o.Actor)
	// Output: 200 OK 1 force-open tag:stripe alice
}
