package prometheus_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/fleet"
)

// Register the collector and serve /metrics.
func Example() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bbprom.NewCollector(reg))

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux) // in a service: an http.Server on its metrics port
	defer srv.Close()

	// Guards created later are exported at the next scrape.
	reg.MustGuard("payments").ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, bbprom.MetricBreakerStatus+"{") && strings.HasSuffix(line, " 1\n") {
			fmt.Print(line)
		}
	}
	// Output: breakerbox_circuit_breaker_status{guard="payments",policy="default",state="forced-open"} 1
}

// The series a guard's breaker state gives: 1 for the current state.
func ExampleNewCollector() {
	reg, _ := core.NewRegistry()
	reg.MustGuard("inventory")
	c := bbprom.NewCollector(reg)

	out, _ := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, bbprom.MetricBreakerStatus)
	for line := range strings.Lines(string(out)) {
		if !strings.HasPrefix(line, "#") {
			fmt.Print(line)
		}
	}
	// Output:
	// breakerbox_circuit_breaker_status{guard="inventory",policy="default",state="closed"} 1
	// breakerbox_circuit_breaker_status{guard="inventory",policy="default",state="disabled"} 0
	// breakerbox_circuit_breaker_status{guard="inventory",policy="default",state="forced-open"} 0
	// breakerbox_circuit_breaker_status{guard="inventory",policy="default",state="half-open"} 0
	// breakerbox_circuit_breaker_status{guard="inventory",policy="default",state="metrics-only"} 0
	// breakerbox_circuit_breaker_status{guard="inventory",policy="default",state="open"} 0
}

// Export the guards of two registries to one Prometheus registry, told
// apart by a constant label.
func ExampleWithConstLabels() {
	public, _ := core.NewRegistry()
	internal, _ := core.NewRegistry()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(
		bbprom.NewCollector(public, bbprom.WithConstLabels(prometheus.Labels{"registry": "public"})),
		bbprom.NewCollector(internal, bbprom.WithConstLabels(prometheus.Labels{"registry": "internal"})),
	)
	fmt.Println("registered")
	// Output: registered
}

// fleetOfTwo stands in for a fleet agent (*fleet.Agent from fleet.Join).
type fleetOfTwo struct{}

func (fleetOfTwo) Snapshot() fleet.Snapshot {
	return fleet.Snapshot{Members: []fleet.Member{{ID: "web-1"}, {ID: "web-2"}}, Store: fleet.StoreHealth{Up: true}}
}

// A replica's fleet metrics, beside its guards': here the store's health
// and the fleet's size.
func ExampleNewFleetCollector() {
	c := bbprom.NewFleetCollector(fleetOfTwo{}) // in a service: bbprom.NewFleetCollector(agent)
	out, _ := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, bbprom.MetricFleetStoreUp, bbprom.MetricFleetMembers)
	for line := range strings.Lines(string(out)) {
		if !strings.HasPrefix(line, "#") {
			fmt.Print(line)
		}
	}
	// Output:
	// breakerbox_fleet_members 2
	// breakerbox_fleet_store_up 1
}

// windowCounter stands in for a maintenance.Scheduler, which counts its
// windows (WindowCounts).
type windowCounter struct{}

func (windowCounter) WindowCounts() (active, upcoming int) { return 1, 2 }

// Export the count of maintenance windows with the guards' metrics.
func ExampleWithWindows() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bbprom.NewCollector(reg, bbprom.WithWindows(windowCounter{})))
	n, err := testutil.GatherAndCount(promReg, bbprom.MetricMaintenanceWindows)
	fmt.Println(n, err)
	// Output: 2 <nil>
}
