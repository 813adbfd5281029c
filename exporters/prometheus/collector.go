package prometheus

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/metrics"
)

// Label names: the Labels of the metrics package's attributes. Every series
// carries LabelGuard and LabelPolicy.
const (
	// LabelGuard is the guard's name (the OTel attribute
	// breakerbox.guard.name).
	LabelGuard = "guard"
	// LabelPolicy is the name of the policy the guard was built from (the
	// OTel attribute breakerbox.policy.name).
	LabelPolicy = "policy"
	// LabelOutcome is a call's outcome (the OTel attribute
	// breakerbox.outcome).
	LabelOutcome = "outcome"
	// LabelState is a breaker state, as breaker.State.String spells it (the
	// OTel attribute breakerbox.circuit_breaker.state).
	LabelState = "state"
	// LabelReason is why a guard rejected a call (the OTel attribute
	// breakerbox.rejection.reason); see MetricGuardRejections.
	LabelReason = "reason"
)

// Metric names: the names of the metrics package's table, rendered as the
// package documentation says (dots become underscores, seconds end in
// _seconds, counters in _total; the bulkhead's usage and limits are split
// into four gauges). A guard has no series for a primitive it lacks: a
// guard without a bulkhead has no bulkhead series, one whose policy has no
// retries no retry series.
const (
	// MetricGuardInfo is 1 for every guard, with the labels guard, policy,
	// tags (the guard's tags, sorted, joined with ",") and critical
	// ("true" or "false"). Join it on guard to slice any other series by
	// tag without carrying the tags on every series.
	MetricGuardInfo = "breakerbox_guard_info"
	// MetricGuardRejections counts rejected calls by reason:
	// "circuit_open" (breaker open, forced open or ramping),
	// "circuit_half_open" (half-open with every probe slot taken),
	// "bulkhead_full" (no slot and no room or time in the queue) and
	// "rate_limited". Apart from circuit_half_open these are the
	// error.type values that rejections carry on traces.
	MetricGuardRejections = "breakerbox_guard_rejections_total"

	// MetricBreakerCalls counts calls by outcome: "success", "failure" and
	// "ignored" for admitted calls once they report, "rejected" for calls
	// the breaker refused (open or half-open).
	MetricBreakerCalls = "breakerbox_circuit_breaker_calls_total"
	// MetricBreakerStatus is 1 for the breaker's current state and 0 for
	// each of the others (closed, open, half-open, forced-open, disabled,
	// metrics-only).
	MetricBreakerStatus = "breakerbox_circuit_breaker_status"
	// MetricBreakerTransitions counts state changes.
	MetricBreakerTransitions = "breakerbox_circuit_breaker_transitions_total"
	// MetricBreakerStateChange is the Unix time at which the breaker
	// entered its current state, so time() minus it is how long the
	// breaker has been in it.
	MetricBreakerStateChange = "breakerbox_circuit_breaker_state_change_timestamp_seconds"
	// MetricBreakerFailureRate is the share of failed calls in the
	// breaker's current window, as a ratio from 0 to 1 (not a percentage).
	MetricBreakerFailureRate = "breakerbox_circuit_breaker_failure_rate"
	// MetricBreakerSlowCallRate is the share of slow calls in the current
	// window, as a ratio from 0 to 1.
	MetricBreakerSlowCallRate = "breakerbox_circuit_breaker_slow_call_rate"
	// MetricBreakerWindowCalls is the number of calls in the current
	// window.
	MetricBreakerWindowCalls = "breakerbox_circuit_breaker_window_calls"
	// MetricBreakerConsecutiveFailures is the current run of failures.
	MetricBreakerConsecutiveFailures = "breakerbox_circuit_breaker_consecutive_failures"
	// MetricBreakerSlowCalls counts calls at or above the slow threshold.
	MetricBreakerSlowCalls = "breakerbox_circuit_breaker_slow_calls_total"
	// MetricBreakerShadowTrips counts the trips a metrics-only breaker
	// would have made.
	MetricBreakerShadowTrips = "breakerbox_circuit_breaker_shadow_trips_total"

	// MetricBulkheadUsage is the number of slots held by running calls.
	MetricBulkheadUsage = "breakerbox_bulkhead_usage"
	// MetricBulkheadLimit is the configured number of slots.
	MetricBulkheadLimit = "breakerbox_bulkhead_limit"
	// MetricBulkheadQueueLength is the number of callers waiting for a
	// slot.
	MetricBulkheadQueueLength = "breakerbox_bulkhead_queue_length"
	// MetricBulkheadQueueLimit is the configured queue size.
	MetricBulkheadQueueLimit = "breakerbox_bulkhead_queue_limit"
	// MetricBulkheadCalls counts the calls the bulkhead did not admit at
	// once, by outcome: "rejected" (no slot, queue full or absent),
	// "timed_out" (waited the maximum wait), "canceled" (the caller's
	// context ended while queued) and "waited" (queued, then admitted).
	// Calls admitted at once are not counted by the bulkhead (that would
	// cost every call an atomic add): see MetricBreakerCalls.
	MetricBulkheadCalls = "breakerbox_bulkhead_calls_total"
	// MetricBulkheadAdaptiveLimit is an adaptive bulkhead's current limit,
	// as its algorithm last computed it (MetricBulkheadLimit follows it).
	MetricBulkheadAdaptiveLimit = "breakerbox_bulkhead_adaptive_limit"
	// MetricGuardOverhead is the time a guard itself adds to a call, by
	// outcome "gates" and "report", measured on about one call in 1024.
	MetricGuardOverhead = "breakerbox_guard_overhead_seconds"
	// MetricMaintenanceActive is 1 while a maintenance window holds a
	// guard (forced open or metrics-only by package maintenance), else 0.
	MetricMaintenanceActive = "breakerbox_maintenance_active"
	// MetricDependencyOpen is 1 while a guard is held open because a guard
	// it depends on is open (a policy's dependsOn), else 0; GET
	// /v1/dependencies names the cause.
	MetricDependencyOpen = "breakerbox_dependency_open"
	// MetricMaintenanceWindows counts the registry's maintenance windows by
	// state, "active" or "upcoming"; exported with WithWindows only. Its
	// series carry no guard or policy label.
	MetricMaintenanceWindows = "breakerbox_maintenance_windows"
	// MetricCostAmount is what a guard's calls cost, in its policy's
	// currency, by outcome: spent, retries, avoided_breaker,
	// avoided_rate_limit (see core.CostPolicy).
	MetricCostAmount = "breakerbox_cost_amount_total"
	// MetricMachineState is a guard's current custom state, as its index in
	// the states of its policy's machine section (see core.MachinePolicy).
	MetricMachineState = "breakerbox_machine_state"
	// MetricMachineCalls counts the calls a guard's custom state admitted
	// or rejected, by outcome.
	MetricMachineCalls = "breakerbox_machine_calls_total"
	// MetricBulkheadQueueWait counts the seconds spent queued by calls that
	// then got a slot; divided by the rate of MetricBulkheadCalls with
	// outcome "waited", it is the mean wait.
	MetricBulkheadQueueWait = "breakerbox_bulkhead_queue_wait_time_seconds_total"

	// MetricRateLimiterCalls counts calls by outcome, "permitted" or
	// "rejected".
	MetricRateLimiterCalls = "breakerbox_rate_limiter_calls_total"
	// MetricRateLimiterAvailable is how many calls the limiter could admit
	// at once now (negative while Wait reservations are outstanding).
	MetricRateLimiterAvailable = "breakerbox_rate_limiter_available"
	// MetricRateLimiterLimit is the configured rate, in calls per second.
	MetricRateLimiterLimit = "breakerbox_rate_limiter_limit"

	// MetricRetryRetries counts retry attempts (first attempts excluded).
	MetricRetryRetries = "breakerbox_retry_retries_total"
	// MetricRetryAttempts counts the attempts made through a retrying
	// guard, first attempts and retries, as counted at its gates (admitted
	// or rejected).
	MetricRetryAttempts = "breakerbox_retry_attempts_total"
	// MetricRetryCalls counts calls by how their retries ended; the one
	// outcome counted is "budget_exhausted": calls that stopped retrying
	// because the retry budget was spent.
	MetricRetryCalls = "breakerbox_retry_calls_total"

	// MetricFallbackCalls counts failed calls handed to fallbacks, by
	// outcome: "served" (a fallback answered) or "failed" (every fallback
	// failed too).
	MetricFallbackCalls = "breakerbox_fallback_calls_total"

	// MetricHedgeHedges counts hedges of idempotent calls by outcome: "won",
	// "lost", "budget_exhausted" or "breaker_not_closed" (the last two
	// were not started).
	MetricHedgeHedges = "breakerbox_hedge_hedges_total"
	// MetricHedgeCancelled counts attempts cancelled because another
	// attempt of their call answered first.
	MetricHedgeCancelled = "breakerbox_hedge_cancelled_total"

	// MetricCacheCalls counts calls through a guard's cache by outcome:
	// "hit", "shared" or "filled".
	MetricCacheCalls = "breakerbox_cache_calls_total"
	// MetricCacheStale counts failed calls handed to the cache by outcome:
	// "served" (a stale value answered) or "missing".
	MetricCacheStale = "breakerbox_cache_stale_total"
	// MetricCacheEvictions counts entries evicted from the cache.
	MetricCacheEvictions = "breakerbox_cache_evictions_total"
	// MetricCacheEntries is the number of entries in the cache.
	MetricCacheEntries = "breakerbox_cache_entries"
	// MetricCacheBytes is the bytes the cache's entries count.
	MetricCacheBytes = "breakerbox_cache_bytes"
)

// Collector is a prometheus.Collector that reads a registry's Snapshot at
// every scrape: nothing is counted on the call path, and a guard created
// after the Collector was registered appears at the next scrape. Its
// descriptors are built once, by NewCollector, from the metrics package's
// table, and each guard's label pairs once, at the first scrape that sees
// the guard, so that a scrape allocates little more than the metrics it
// sends.
//
// A Collector does not register itself: pass it to a prometheus.Registerer.
// It is safe for concurrent use (scrapes may overlap).
type Collector struct {
	reg    *core.Registry
	descs  []*prometheus.Desc
	table  []metrics.Metric
	series []series         // the info series, then each table metric's values
	first  []int            // by table index: the index in series of its first value
	width  int              // the most values of one table metric
	consts []*dto.LabelPair // the const labels, sorted

	windows     metrics.WindowCounter // WithWindows; nil without
	windowsDesc *prometheus.Desc

	mu     sync.Mutex
	guards map[string]*guardLabels // by guard name
}

// kind is the type of a series.
type kind uint8

const (
	counter kind = iota
	gauge
)

// infoSeries is the index of the info series in Collector.series: its two
// label values are the guard's own (see Collector.build).
const infoSeries = 0

// series is one series every guard may have: a descriptor and the names and
// values of the descriptor's labels after guard and policy.
type series struct {
	desc         *prometheus.Desc
	kind         kind
	names, extra []string
}

// guardLabels caches one guard's label pairs for each series.
type guardLabels struct {
	policy   string
	tags     []string
	critical bool
	pairs    [][]*dto.LabelPair // by series index
}

// promName returns the Prometheus name of a metric of the table, or of one of
// its parts (name is then the part's name): the dotted name with its dots
// replaced by underscores, then _seconds when the unit is seconds, then
// _total for a counter.
func promName(m *metrics.Metric, name string) string {
	n := strings.ReplaceAll(name, ".", "_")
	if m.Unit == "s" && !strings.HasSuffix(n, "_seconds") {
		n += "_seconds"
	}
	if m.Kind == metrics.Counter {
		n += "_total"
	}
	return n
}

// NewCollector returns a Collector of reg's guards. Register it with a
// prometheus.Registerer:
//
//	prometheus.MustRegister(bbprom.NewCollector(reg))
func NewCollector(reg *core.Registry, opts ...Option) *Collector {
	cfg := newConfig(opts)
	c := &Collector{reg: reg, table: metrics.Table(), guards: map[string]*guardLabels{}}
	for name, value := range cfg.constLabels {
		c.consts = append(c.consts, labelPair(name, value))
	}
	sortPairs(c.consts)

	desc := func(name, help string, labels ...string) *prometheus.Desc {
		d := prometheus.NewDesc(name, help, append([]string{metrics.GuardName.Label, metrics.PolicyName.Label}, labels...), cfg.constLabels)
		c.descs = append(c.descs, d)
		return d
	}
	c.series = append(c.series, series{kind: gauge, names: []string{"tags", "critical"},
		desc: desc(MetricGuardInfo, "Guards of the registry, 1 each, with their tags (sorted, comma-separated) and whether they are critical.", "tags", "critical")})
	for i := range c.table {
		m := &c.table[i]
		k := gauge
		if m.Kind == metrics.Counter {
			k = counter
		}
		c.first = append(c.first, len(c.series))
		c.width = max(c.width, m.Len())
		switch {
		case m.Split != nil:
			for _, p := range m.Split {
				c.series = append(c.series, series{desc: desc(promName(m, p.Name), p.Description), kind: k})
			}
		case len(m.Values) > 0:
			d := desc(promName(m, m.Name), m.Description, m.Attribute.Label)
			for _, v := range m.Values {
				c.series = append(c.series, series{desc: d, kind: k, names: []string{m.Attribute.Label}, extra: []string{v}})
			}
		default:
			c.series = append(c.series, series{desc: desc(promName(m, m.Name), m.Description), kind: k})
		}
	}
	if cfg.windows != nil {
		m := metrics.MaintenanceWindows()
		c.windows = cfg.windows
		c.windowsDesc = prometheus.NewDesc(promName(&m, m.Name), m.Description, []string{m.Attribute.Label}, cfg.constLabels)
		c.descs = append(c.descs, c.windowsDesc)
	}
	return c
}

// Describe sends the descriptors of every metric the Collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect takes a Snapshot of the registry and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.windows != nil {
		active, upcoming := c.windows.WindowCounts()
		ch <- prometheus.MustNewConstMetric(c.windowsDesc, prometheus.GaugeValue, float64(active), "active")
		ch <- prometheus.MustNewConstMetric(c.windowsDesc, prometheus.GaugeValue, float64(upcoming), "upcoming")
	}
	snaps := c.reg.Snapshot()
	labels := c.labels(snaps)
	buf := make([]float64, c.width)
	for i := range snaps {
		s := &snaps[i]
		pairs := labels[i].pairs
		// One allocation per guard holds all its metrics: they are
		// read-only once sent, and the registry keeps them no longer than
		// the scrape.
		ms := make([]metric, len(c.series))
		send := func(j int, v float64) {
			m := &ms[j]
			m.desc, m.kind, m.value, m.labels = c.series[j].desc, c.series[j].kind, v, pairs[j]
			ch <- m
		}
		send(infoSeries, 1)
		has := metrics.PrimitivesOf(c.reg, s)
		for t := range c.table {
			m := &c.table[t]
			v := buf[:m.Len()]
			if !has.Has(m.Requires) || !m.Read(s, v) {
				continue
			}
			for j, x := range v {
				send(c.first[t]+j, x)
			}
		}
	}
}

// labels returns the cached label pairs of each guard of snaps, building
// those of new guards and forgetting those of guards that are gone.
func (c *Collector) labels(snaps []core.GuardSnapshot) []*guardLabels {
	out := make([]*guardLabels, len(snaps))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range snaps {
		s := &snaps[i]
		g := c.guards[s.Name]
		if g == nil || g.policy != s.Policy || g.critical != s.Critical || !slices.Equal(g.tags, s.Tags) {
			g = c.build(s)
			c.guards[s.Name] = g
		}
		out[i] = g
	}
	if len(c.guards) > len(snaps) {
		keep := make(map[string]bool, len(snaps))
		for i := range snaps {
			keep[snaps[i].Name] = true
		}
		for name := range c.guards {
			if !keep[name] {
				delete(c.guards, name)
			}
		}
	}
	return out
}

// build makes a guard's label pairs for every series, sorted by label name
// as the exposition wants them.
func (c *Collector) build(s *core.GuardSnapshot) *guardLabels {
	g := &guardLabels{policy: s.Policy, tags: slices.Clone(s.Tags), critical: s.Critical, pairs: make([][]*dto.LabelPair, len(c.series))}
	guard, policy := labelPair(metrics.GuardName.Label, labelValue(s.Name)), labelPair(metrics.PolicyName.Label, labelValue(s.Policy))
	for i, sr := range c.series {
		pairs := make([]*dto.LabelPair, 0, len(c.consts)+4)
		pairs = append(pairs, c.consts...)
		pairs = append(pairs, guard, policy)
		extra := sr.extra
		if i == infoSeries {
			extra = []string{labelValue(strings.Join(s.Tags, ",")), strconv.FormatBool(s.Critical)}
		}
		for k, v := range extra {
			pairs = append(pairs, labelPair(sr.names[k], v))
		}
		sortPairs(pairs)
		// No spare capacity: a wrapper that appends labels in Write
		// (prometheus.WrapRegistererWith) then copies instead of writing
		// into the shared array.
		g.pairs[i] = slices.Clip(pairs)
	}
	return g
}

// metric is one sample of one guard. It implements prometheus.Metric with
// label pairs shared between scrapes (client_golang's own metrics do the
// same): they are never modified once built.
type metric struct {
	desc   *prometheus.Desc
	kind   kind
	value  float64
	labels []*dto.LabelPair
}

// Desc returns the metric's descriptor.
func (m *metric) Desc() *prometheus.Desc { return m.desc }

// Write encodes the metric.
func (m *metric) Write(out *dto.Metric) error {
	out.Label = m.labels
	v := m.value
	switch m.kind {
	case counter:
		out.Counter = &dto.Counter{Value: &v}
	case gauge:
		out.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

func sortPairs(pairs []*dto.LabelPair) {
	slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return cmp.Compare(a.GetName(), b.GetName()) })
}

// labelValue makes s a valid label value: Prometheus rejects invalid UTF-8,
// which a guard name built from outside data could hold.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
