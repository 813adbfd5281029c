package maintenance_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance"
)

const (
	writeSecret = "alice-secret-0123456789"
	readSecret  = "grafana-secret-012345678"
)

func call(t *testing.T, ts *httptest.Server, method, path, secret string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

func TestMaintenanceAPIWritesNeedAWriteTokenAndAreAudited(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("db")
	s := maintenance.New(reg)
	s.Start()
	defer s.Close()
	srv, err := admin.New(reg, admin.WithToken("alice", writeSecret, admin.Write), admin.WithToken("grafana", readSecret, admin.Read),
		admin.WithLogger(slog.New(slog.DiscardHandler)), admin.WithMaintenance(s))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	now := time.Now()
	w := wire.MaintenanceWindow{Name: "upgrade", Guard: "db", Action: "open", Start: now.Add(-time.Minute), End: now.Add(time.Hour), Reason: "postgres 17"}
	for _, secret := range []string{"", readSecret} {
		if code, body := call(t, ts, http.MethodPost, "/v1/maintenance", secret, w); code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Fatalf("POST with %q: %d %s", secret, code, body)
		}
	}
	if len(s.Windows()) != 0 || reg.MustGuard("db").Breaker().State() != breaker.Closed {
		t.Fatal("a refused request scheduled a window")
	}

	// Bad input: the field and the value, nothing scheduled.
	bad := w
	bad.Schedule, bad.Start, bad.End, bad.Duration, bad.TimeZone = "* * *", time.Time{}, time.Time{}, "1h", "Nowhere/Land"
	code, body := call(t, ts, http.MethodPost, "/v1/maintenance", writeSecret, bad)
	var p wire.Problem
	_ = json.Unmarshal(body, &p)
	if code != http.StatusBadRequest || len(p.Problems) != 2 || p.Problems[0].Path != "timeZone" || p.Problems[0].Value != `"Nowhere/Land"` || p.Problems[1].Path != "schedule" || p.Problems[1].Value != `"* * *"` {
		t.Fatalf("bad window: %d %s", code, body)
	}
	if len(s.Windows()) != 0 {
		t.Fatal("a refused window was scheduled")
	}

	code, body = call(t, ts, http.MethodPost, "/v1/maintenance", writeSecret, w)
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, body)
	}
	if got := reg.MustGuard("db").Breaker().State(); got != breaker.ForcedOpen {
		t.Fatalf("db is %s during its window", got)
	}
	var list wire.MaintenanceList
	code, body = call(t, ts, http.MethodGet, "/v1/maintenance", readSecret, nil)
	if err := json.Unmarshal(body, &list); code != 200 || err != nil || len(list.Windows) != 1 || !list.Windows[0].Active || list.Windows[0].CreatedBy != "alice" {
		t.Fatalf("GET: %d %s", code, body)
	}
	if code, body := call(t, ts, http.MethodDelete, "/v1/maintenance/upgrade", writeSecret, nil); code != http.StatusBadRequest || !strings.Contains(string(body), "reason") {
		t.Fatalf("DELETE without a reason: %d %s", code, body)
	}
	if code, body := call(t, ts, http.MethodDelete, "/v1/maintenance/upgrade?reason=done+early", writeSecret, nil); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if got := reg.MustGuard("db").Breaker().State(); got != breaker.Closed {
		t.Fatalf("db is %s after its window was deleted", got)
	}
	if code, _ := call(t, ts, http.MethodDelete, "/v1/maintenance/upgrade?reason=again", writeSecret, nil); code != http.StatusNotFound {
		t.Fatalf("DELETE of an unknown window: %d", code)
	}

	var page wire.AuditPage
	_, body = call(t, ts, http.MethodGet, "/v1/audit", readSecret, nil)
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range page.Records {
		ops = append(ops, string(r.Op)+" "+r.Actor+" "+r.Params["window"]+" "+r.Reason)
	}
	if got := strings.Join(ops, "|"); !strings.Contains(got, "maintenance-add alice upgrade postgres 17") || !strings.Contains(got, "maintenance-delete alice upgrade done early") {
		t.Fatalf("audit: %s", got)
	}
}
