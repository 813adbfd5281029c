package prometheus_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
)

// opsRegistry has db held by a maintenance window (as package maintenance
// holds it: forced open with actor "maintenance"), pg forced open by an
// operator, and orders held open by its dependency on pg.
func opsRegistry(t *testing.T) *core.Registry {
	t.Helper()
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "pg"}, core.Policy{Name: "db"}, core.Policy{Name: "orders", DependsOn: []string{"pg"}}))
	reg.MustGuard("orders")
	reg.MustGuard("pg").ForceOpen(breaker.Manual{Actor: "alice", Reason: "failover"})
	reg.MustGuard("db").ForceOpen(breaker.Manual{Actor: core.MaintenanceActor, Reason: "nightly"})
	if s := reg.MustGuard("orders").Breaker().State(); s != breaker.ForcedOpen {
		t.Fatalf("orders is %s, want forced open by its dependency", s)
	}
	return reg
}

// scrapeText scrapes reg's collector over HTTP, as Prometheus would.
func scrapeText(t *testing.T, reg *core.Registry) string {
	t.Helper()
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(reg))
	srv := httptest.NewServer(promhttp.HandlerFor(pr, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	return string(body)
}

// The maintenance and dependency rows: one series per guard, 1 for the
// guard a window or a dependency holds, 0 for the others; released, 0.
func TestScrapeMaintenanceAndDependencyRows(t *testing.T) {
	reg := opsRegistry(t)
	body := scrapeText(t, reg)
	for _, want := range []string{
		"# TYPE breakerbox_maintenance_active gauge",
		`breakerbox_maintenance_active{guard="db",policy="db"} 1`,
		`breakerbox_maintenance_active{guard="orders",policy="orders"} 0`,
		`breakerbox_maintenance_active{guard="pg",policy="pg"} 0`,
		"# TYPE breakerbox_dependency_open gauge",
		`breakerbox_dependency_open{guard="orders",policy="orders"} 1`,
		`breakerbox_dependency_open{guard="pg",policy="pg"} 0`,
		`breakerbox_dependency_open{guard="db",policy="db"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("the scrape has no line %q", want)
		}
	}
	reg.MustGuard("pg").Release(breaker.Manual{Actor: "alice", Reason: "back"})
	reg.MustGuard("db").Release(breaker.Manual{Actor: core.MaintenanceActor, Reason: "nightly"})
	body = scrapeText(t, reg)
	for _, want := range []string{
		`breakerbox_maintenance_active{guard="db",policy="db"} 0`,
		`breakerbox_dependency_open{guard="orders",policy="orders"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("after the release, the scrape has no line %q", want)
		}
	}
}

type counts struct{ active, upcoming int }

func (c counts) WindowCounts() (int, int) { return c.active, c.upcoming }

// With WithWindows, the scrape counts the maintenance windows by state,
// without guard labels; without it, it has no such metric.
func TestScrapeMaintenanceWindows(t *testing.T) {
	reg := opsRegistry(t)
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(reg, bbprom.WithWindows(counts{1, 3}), bbprom.WithConstLabels(prometheus.Labels{"registry": "shop"})))
	srv := httptest.NewServer(promhttp.HandlerFor(pr, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"# TYPE " + bbprom.MetricMaintenanceWindows + " gauge",
		bbprom.MetricMaintenanceWindows + `{registry="shop",state="active"} 1`,
		bbprom.MetricMaintenanceWindows + `{registry="shop",state="upcoming"} 3`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("the scrape has no line %q", want)
		}
	}
	if strings.Contains(scrapeText(t, reg), bbprom.MetricMaintenanceWindows) {
		t.Error("the windows are exported without WithWindows")
	}
}
