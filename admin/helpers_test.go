package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

const (
	aliceSecret = "alice-secret-0123456789"
	bobSecret   = "bob-secret-0123456789ab"
	readSecret  = "grafana-secret-012345678"
)

// testRegistry holds guards of every kind the tests need:
//
//	payments.charge   tags stripe, payments; critical
//	payments.refund   tags stripe, payments
//	search            no tags; with a bulkhead
//	GET /users/{id}   a route-pattern name, with a slash and a space
func testRegistry(t testing.TB) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "payments", Match: []string{"payments.*"}, Tags: []string{"stripe"}},
		core.Policy{Name: "critical-payments", Extends: "payments", Critical: true},
		core.Policy{Name: "search", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4}},
	))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments.charge", core.UsePolicy("critical-payments"), core.WithTags("payments"))
	reg.MustGuard("payments.refund", core.WithTags("payments"))
	reg.MustGuard("search")
	reg.MustGuard("GET /users/{id}")
	return reg
}

// testAPI is an admin server over a real httptest server.
type testAPI struct {
	t   testing.TB
	reg *core.Registry
	srv *Server
	ts  *httptest.Server
}

func newTestAPI(t testing.TB, opts ...Option) *testAPI {
	t.Helper()
	reg := testRegistry(t)
	return newTestAPIFor(t, reg, opts...)
}

func newTestAPIFor(t testing.TB, reg *core.Registry, opts ...Option) *testAPI {
	t.Helper()
	base := []Option{
		WithToken("alice", aliceSecret, Write),
		WithToken("bob", bobSecret, Write),
		WithToken("grafana", readSecret, Read),
		WithLogger(slog.New(slog.DiscardHandler)),
	}
	s, err := New(reg, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { s.Close() }) // first: it ends the event streams ts.Close waits for
	return &testAPI{t: t, reg: reg, srv: s, ts: ts}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the bearer token secret ("" for none) and a
// body (a string sent as is, anything else encoded as JSON).
func (a *testAPI) do(method, path, secret string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.ts.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	return a.send(req)
}

func (a *testAPI) send(req *http.Request) response {
	a.t.Helper()
	res, err := a.ts.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// ok asserts a 200 JSON answer and decodes it into v.
func (r response) ok(t testing.TB, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decoding %s: %v", r.body, err)
		}
	}
}

// problem asserts a problem answer with status and code and returns it.
func (r response) problem(t testing.TB, status int, code string) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (status %d, body %s)", ct, r.status, r.body)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decoding problem %s: %v", r.body, err)
	}
	if r.status != status || p.Status != status || p.Code != code {
		t.Fatalf("got status %d, problem %+v; want status %d code %q", r.status, p, status, code)
	}
	if p.Type != ProblemTypePrefix+code || p.Title == "" {
		t.Fatalf("problem type/title: %+v", p)
	}
	return p
}

func (a *testAPI) op(op Op, secret string, req OperationRequest) response {
	a.t.Helper()
	return a.do(http.MethodPost, "/v1/operations/"+string(op), secret, req)
}

func (a *testAPI) state(name string) string {
	a.t.Helper()
	g, ok := a.reg.Lookup(name)
	if !ok {
		a.t.Fatalf("no guard %q", name)
	}
	return g.Breaker().State().String()
}

func (a *testAPI) audit(query string) AuditPage {
	a.t.Helper()
	var p AuditPage
	a.do(http.MethodGet, "/v1/audit"+query, readSecret, nil).ok(a.t, &p)
	return p
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
