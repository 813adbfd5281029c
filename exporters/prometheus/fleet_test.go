package prometheus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
)

// snapshotSource is a FleetSource returning a fixed snapshot, as a fleet
// agent would at one scrape.
type snapshotSource struct{ snap fleet.Snapshot }

func (s *snapshotSource) Snapshot() fleet.Snapshot { return s.snap }

func TestFleetCollectorValues(t *testing.T) {
	src := &snapshotSource{fleet.Snapshot{
		Members: []fleet.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		Guards: []fleet.GuardView{
			{Guard: "payments", Rule: "quorum", OpenVotes: []string{"b", "c"}, Adopted: true},
			{Guard: "search", Rule: "local"},
		},
		Store: fleet.StoreHealth{Up: false, LastError: "timeout", Since: time.Now(), Dropped: 4, Malformed: 2, AllowedByFailureMode: 17, Errors: 9, Timeouts: 7, Skipped: 30},
	}}
	c := bbprom.NewFleetCollector(src, bbprom.WithConstLabels(prometheus.Labels{"service": "web"}))
	want := `
# HELP breakerbox_fleet_guard_adopted 1 while this replica holds the guard open because of the fleet's verdict (its adoption rule), 0 otherwise.
# TYPE breakerbox_fleet_guard_adopted gauge
breakerbox_fleet_guard_adopted{guard="payments",service="web"} 1
breakerbox_fleet_guard_adopted{guard="search",service="web"} 0
# HELP breakerbox_fleet_guard_open_votes Replicas holding an unexpired open vote on the guard (opened on their own evidence).
# TYPE breakerbox_fleet_guard_open_votes gauge
breakerbox_fleet_guard_open_votes{guard="payments",service="web"} 2
breakerbox_fleet_guard_open_votes{guard="search",service="web"} 0
# HELP breakerbox_fleet_members Live replicas of the fleet as this replica sees them, itself included.
# TYPE breakerbox_fleet_members gauge
breakerbox_fleet_members{service="web"} 3
# HELP breakerbox_fleet_publications_dropped_total Verdicts and heartbeats this replica did not publish because its bounded publication queue was full (the store slow or down).
# TYPE breakerbox_fleet_publications_dropped_total counter
breakerbox_fleet_publications_dropped_total{service="web"} 4
# HELP breakerbox_fleet_rate_limiter_allowed_by_failure_mode_total Calls a global rate limit admitted at this replica's local share while the store was unreachable.
# TYPE breakerbox_fleet_rate_limiter_allowed_by_failure_mode_total counter
breakerbox_fleet_rate_limiter_allowed_by_failure_mode_total{service="web"} 17
# HELP breakerbox_fleet_store_errors_total Store calls that failed, timeouts included.
# TYPE breakerbox_fleet_store_errors_total counter
breakerbox_fleet_store_errors_total{service="web"} 9
# HELP breakerbox_fleet_store_skipped_total Store calls not made because the store's own breaker was open.
# TYPE breakerbox_fleet_store_skipped_total counter
breakerbox_fleet_store_skipped_total{service="web"} 30
# HELP breakerbox_fleet_store_timeouts_total Store calls that ran out of their timeout (counted among the errors too).
# TYPE breakerbox_fleet_store_timeouts_total counter
breakerbox_fleet_store_timeouts_total{service="web"} 7
# HELP breakerbox_fleet_store_up 1 while the fleet's store answers this replica, 0 while it is unreachable (its calls fail or its breaker is open): fleet mode is degraded, and guards decide alone.
# TYPE breakerbox_fleet_store_up gauge
breakerbox_fleet_store_up{service="web"} 0
# HELP breakerbox_fleet_values_malformed_total Values read from the store that this replica skipped: malformed, foreign, or of another protocol version.
# TYPE breakerbox_fleet_values_malformed_total counter
breakerbox_fleet_values_malformed_total{service="web"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	// Every description is rendered, under the name the constants give.
	names := []string{bbprom.MetricFleetStoreUp, bbprom.MetricFleetStoreErrors, bbprom.MetricFleetStoreTimeouts, bbprom.MetricFleetStoreSkipped, bbprom.MetricFleetPublicationsDropped, bbprom.MetricFleetValuesMalformed,
		bbprom.MetricFleetAllowedByFailureMode, bbprom.MetricFleetMembers, bbprom.MetricFleetGuardOpenVotes, bbprom.MetricFleetGuardAdopted}
	if n := len(metrics.Fleet()); n != len(names) {
		t.Fatalf("%d fleet metrics described, %d named", n, len(names))
	}
	if n := testutil.CollectAndCount(c, names...); n != 12 {
		t.Fatalf("%d series, want 12", n)
	}
	// The store back: up is 1.
	src.snap.Store = fleet.StoreHealth{Up: true}
	if v := testutil.ToFloat64(onlyMetric(c, bbprom.MetricFleetStoreUp)); v != 1 {
		t.Fatalf("store up %v", v)
	}
	// Beside the registry's collector, in one registry, it lints clean.
	reg := newRegistry(t)
	reg.MustGuard("payments")
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(c, bbprom.NewCollector(reg))
	problems, err := testutil.GatherAndLint(pr)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// onlyMetric is a collector of one of c's metrics.
func onlyMetric(c prometheus.Collector, name string) prometheus.Collector {
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		all := make(chan prometheus.Metric, 64)
		c.Collect(all)
		close(all)
		for m := range all {
			if strings.Contains(m.Desc().String(), `"`+name+`"`) {
				ch <- m
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
