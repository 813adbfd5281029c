package metrics_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/metrics"
	"github.com/breakerbox/breakerbox/ratelimit"
)

func newRegistry(t testing.TB, opts ...core.Option) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

var nameRE = regexp.MustCompile(`^breakerbox(\.[a-z][a-z_]*)+$`)

// Every entry is complete and consistent: a unique dotted name, a unit, a
// description, a reader, and values (and parts) that match its attribute.
func TestTableWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range metrics.Table() {
		if !nameRE.MatchString(m.Name) {
			t.Errorf("%s: not a dotted breakerbox.<primitive>.<what> name", m.Name)
		}
		if seen[m.Name] {
			t.Errorf("%s: listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Unit == "" || m.Description == "" || m.Read == nil {
			t.Errorf("%s: unit %q, description %q, reader %v: all are needed", m.Name, m.Unit, m.Description, m.Read != nil)
		}
		if m.Kind == metrics.Histogram {
			t.Errorf("%s: a histogram cannot be read from a snapshot", m.Name)
		}
		if (m.Attribute == metrics.Attribute{}) != (len(m.Values) == 0) {
			t.Errorf("%s: attribute %v with values %v", m.Name, m.Attribute, m.Values)
		}
		if m.Split != nil && len(m.Split) != len(m.Values) {
			t.Errorf("%s: %d parts for %d values", m.Name, len(m.Split), len(m.Values))
		}
		if m.Split == nil && m.Attribute.Key != "" && m.Attribute.Label == "" {
			t.Errorf("%s: attribute %s has no label and the metric is not split", m.Name, m.Attribute.Key)
		}
		for _, p := range m.Split {
			if seen[p.Name] && p.Name != m.Name || p.Description == "" {
				t.Errorf("%s: part %+v", m.Name, p)
			}
			seen[p.Name] = true
		}
		if m.Len() != max(1, len(m.Values)) {
			t.Errorf("%s: Len %d", m.Name, m.Len())
		}
	}
	// Table returns a copy: changing it changes nothing for the next caller.
	a := metrics.Table()
	a[0].Name = "changed"
	if metrics.Table()[0].Name == "changed" {
		t.Error("Table shares its array with its callers")
	}
}

// The status metric has one value per breaker state, in the order of their
// values, which is how its reader indexes them.
func TestStatusValuesAreTheBreakerStates(t *testing.T) {
	m := byName(t, "breakerbox.circuit_breaker.status")
	for i, v := range m.Values {
		if st := breaker.State(i); st.String() != v {
			t.Errorf("value %d is %q, state %d is %q", i, v, i, st)
		}
	}
	if s := breaker.State(len(m.Values)).String(); !strings.HasPrefix(s, "State(") {
		t.Errorf("state %d (%s) has no status value", len(m.Values), s)
	}
}

func byName(t testing.TB, name string) metrics.Metric {
	t.Helper()
	for _, m := range metrics.Table() {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no metric %s", name)
	return metrics.Metric{}
}

// read returns every value of every metric for s, keyed name{value}, for
// the guard's primitives.
func read(s *core.GuardSnapshot, has metrics.Primitive) map[string]float64 {
	out := map[string]float64{}
	for _, m := range metrics.Table() {
		if !has.Has(m.Requires) {
			continue
		}
		v := make([]float64, m.Len())
		if !m.Read(s, v) {
			continue
		}
		if len(m.Values) == 0 {
			out[m.Name] = v[0]
			continue
		}
		for i, val := range m.Values {
			out[m.Name+"{"+val+"}"] = v[i]
		}
	}
	return out
}

// api has every gate: a rate limit of 6 calls an hour, one bulkhead slot
// without a queue, a breaker that opens after 2 consecutive failures.
var api = core.Policy{
	Name:      "api",
	Match:     []string{"api.*"},
	Breaker:   &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true},
	Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 1},
	RateLimit: &core.RateLimitPolicy{Limit: 6, Per: core.Duration(time.Hour), Burst: 6, Precise: true},
}

// A known sequence of calls reads as the values it should: the breaker's
// rejected calls sum the open and half-open rejections, rates are ratios,
// the rate limit is per second.
func TestReadValues(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(api))
	ctx := context.Background()
	g := reg.MustGuard("api.charge")
	allow := func(want error) *core.Permit {
		t.Helper()
		p, err := g.Allow(ctx)
		if !errors.Is(err, want) {
			t.Fatalf("Allow: got %v, want %v", err, want)
		}
		return &p
	}
	held := allow(nil)                  // rate limit 1
	allow(bulkhead.ErrFull)             // 2
	held.Done(nil)                      // success
	allow(nil).Done(context.Canceled)   // 3: ignored
	allow(nil).Done(errors.New("boom")) // 4: failure
	allow(nil).Done(errors.New("boom")) // 5: failure, opens
	allow(breaker.ErrOpen)              // 6
	allow(ratelimit.ErrLimited)         // 7
	s := g.Snapshot()

	got := read(&s, metrics.PrimitivesOf(reg, &s))
	want := map[string]float64{
		"breakerbox.guard.rejections{circuit_open}":         1,
		"breakerbox.guard.rejections{circuit_half_open}":    0,
		"breakerbox.guard.rejections{bulkhead_full}":        1,
		"breakerbox.guard.rejections{rate_limited}":         1,
		"breakerbox.circuit_breaker.calls{success}":         1,
		"breakerbox.circuit_breaker.calls{failure}":         2,
		"breakerbox.circuit_breaker.calls{ignored}":         1,
		"breakerbox.circuit_breaker.calls{rejected}":        1,
		"breakerbox.circuit_breaker.status{closed}":         0,
		"breakerbox.circuit_breaker.status{open}":           1,
		"breakerbox.circuit_breaker.status{half-open}":      0,
		"breakerbox.circuit_breaker.status{forced-open}":    0,
		"breakerbox.circuit_breaker.status{disabled}":       0,
		"breakerbox.circuit_breaker.status{metrics-only}":   0,
		"breakerbox.circuit_breaker.transitions":            1,
		"breakerbox.circuit_breaker.state_change_timestamp": float64(s.Breaker.Since.UnixNano()) / 1e9,
		"breakerbox.circuit_breaker.failure_rate":           s.Breaker.FailureRate / 100,
		"breakerbox.circuit_breaker.slow_call_rate":         0,
		"breakerbox.circuit_breaker.window_calls":           float64(s.Breaker.WindowCalls),
		"breakerbox.circuit_breaker.consecutive_failures":   0,
		"breakerbox.circuit_breaker.slow_calls":             0,
		"breakerbox.circuit_breaker.shadow_trips":           0,
		"breakerbox.bulkhead.calls{rejected}":               1,
		"breakerbox.bulkhead.calls{timed_out}":              0,
		"breakerbox.bulkhead.calls{canceled}":               0,
		"breakerbox.bulkhead.calls{waited}":                 0,
		"breakerbox.bulkhead.usage{in_use}":                 0,
		"breakerbox.bulkhead.usage{queued}":                 0,
		"breakerbox.bulkhead.limit{in_use}":                 1,
		"breakerbox.bulkhead.limit{queued}":                 0,
		"breakerbox.bulkhead.queue.wait_time":               0,
		"breakerbox.rate_limiter.calls{permitted}":          6,
		"breakerbox.rate_limiter.calls{rejected}":           1,
		"breakerbox.rate_limiter.available":                 s.RateLimit.Available,
		"breakerbox.rate_limiter.limit":                     6.0 / 3600,
		"breakerbox.maintenance.active":                     0,
		"breakerbox.dependency.open":                        0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s read for a guard without retries or fallbacks", k)
		}
	}
}

// Retry and fallback metrics are read for guards whose policy has them.
func TestReadRetriesAndFallbacks(t *testing.T) {
	reg := newRegistry(t,
		core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return struct{}{}, nil }),
		core.WithPolicies(core.Policy{Name: "r", Match: []string{"*"},
			Retry:     &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(time.Microsecond), Jitter: "none"},
			Fallbacks: []core.FallbackRef{{Name: "cached"}}}))
	g := reg.MustGuard("flaky")
	if err := g.Do(context.Background(), func(context.Context) error { return errors.New("x") }); err != nil {
		t.Fatalf("the fallback should have answered: %v", err)
	}
	s := g.Snapshot()
	has := metrics.PrimitivesOf(reg, &s)
	if has != metrics.Retry|metrics.Fallback {
		t.Fatalf("PrimitivesOf = %b, want retry and fallback", has)
	}
	got := read(&s, has)
	for k, v := range map[string]float64{
		"breakerbox.retry.retries":                  2,
		"breakerbox.retry.attempts":                 3,
		"breakerbox.retry.calls{budget_exhausted}":  0,
		"breakerbox.fallback.calls{served}":         1,
		"breakerbox.fallback.calls{failed}":         0,
		"breakerbox.circuit_breaker.calls{failure}": 3,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// Without the registry, or once the guard is gone, retries and
	// fallbacks are not known.
	if p := metrics.PrimitivesOf(nil, &s); p != 0 {
		t.Errorf("PrimitivesOf(nil) = %b", p)
	}
	unknown := core.GuardSnapshot{Name: "gone", Bulkhead: &bulkhead.Snapshot{}, RateLimit: &ratelimit.Snapshot{}}
	if p := metrics.PrimitivesOf(reg, &unknown); p != metrics.Bulkhead|metrics.RateLimit {
		t.Errorf("PrimitivesOf(gone) = %b, want bulkhead and rate limit only", p)
	}
}

// A snapshot that lacks a primitive, or was never filled, reads as no value
// rather than a panic or a nonsense time.
func TestReadWithoutPrimitive(t *testing.T) {
	var s core.GuardSnapshot
	v := make([]float64, 8)
	for _, m := range metrics.Table() {
		ok := m.Read(&s, v[:m.Len()])
		wantNone := m.Requires&(metrics.Bulkhead|metrics.RateLimit|metrics.Hedge|metrics.Cache|metrics.AdaptiveLimit|metrics.Cost|metrics.Machine) != 0 || m.Name == "breakerbox.circuit_breaker.state_change_timestamp" || m.Name == "breakerbox.guard.overhead"
		if ok == wantNone {
			t.Errorf("%s: Read of an empty snapshot = %v", m.Name, ok)
		}
	}
}

// The adaptive limit is read for guards that have one.
func TestReadAdaptiveLimit(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "ad", Match: []string{"*"},
		Breaker:  &core.BreakerPolicy{Mode: "disabled"},
		Bulkhead: &core.BulkheadPolicy{Adaptive: &core.AdaptivePolicy{Algorithm: "aimd", InitialLimit: 7}},
		Throttle: &core.ThrottlePolicy{}}))
	g := reg.MustGuard("dep")
	ctx := context.Background()
	for range 50 {
		_ = g.Do(ctx, func(context.Context) error { return errors.New("refused") })
	}
	s := g.Snapshot()
	prims := metrics.PrimitivesOf(reg, &s)
	if !prims.Has(metrics.AdaptiveLimit) {
		t.Fatalf("primitives %b", prims)
	}
	got := read(&s, prims)
	if v := got["breakerbox.bulkhead.adaptive.limit"]; v != float64(s.Adaptive.Limit) || v < 1 {
		t.Errorf("adaptive limit %v, snapshot %+v", v, s.Adaptive)
	}
}

// The rate limit divides by the snapshot's Per, which the limiter fills in
// (one second when the policy leaves it out): the exporters' old
// "Per <= 0 means a second" fallbacks were dead code, removed with them.
func TestRateLimitPerFilledIn(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "rl", Match: []string{"*"},
		RateLimit: &core.RateLimitPolicy{Limit: 5}}))
	s := reg.MustGuard("x").Snapshot()
	if s.RateLimit == nil || s.RateLimit.Config.Per != time.Second {
		t.Fatalf("snapshot rate limit %+v: want Per filled in as 1s", s.RateLimit)
	}
	if got := read(&s, metrics.PrimitivesOf(reg, &s))["breakerbox.rate_limiter.limit"]; got != 5 {
		t.Fatalf("limit %v per second, want 5", got)
	}
}

// Reading every metric allocates nothing: exporters call Read for every
// guard at every collection.
func TestReadAllocatesNothing(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(api))
	s := reg.MustGuard("api.x").Snapshot()
	table := metrics.Table()
	v := make([]float64, 8)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range table {
			table[i].Read(&s, v[:table[i].Len()])
		}
	})
	if allocs != 0 {
		t.Fatalf("reading the table allocates %v times", allocs)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[metrics.Kind]string{metrics.Counter: "counter", metrics.Gauge: "gauge",
		metrics.UpDownCounter: "updowncounter", metrics.Histogram: "histogram", 12: "Kind(12)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", k, got, want)
		}
	}
}

func TestCallDuration(t *testing.T) {
	m := metrics.CallDuration()
	if m.Name != "breakerbox.call.duration" || m.Unit != "s" || m.Kind != metrics.Histogram || m.Read != nil {
		t.Fatalf("%+v", m)
	}
	if slices.ContainsFunc(metrics.Table(), func(t metrics.Metric) bool { return t.Name == m.Name }) {
		t.Fatal("the call duration is in the table")
	}
}

// docRows returns the rows of the table in doc.go that starts with the
// header line beginning with header, split on runs of spaces.
func docRows(t *testing.T, header string) [][]string {
	t.Helper()
	raw, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in := false
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimRight(line, "\n")
		if !in {
			in = strings.HasPrefix(line, "//\t"+header)
			continue
		}
		if !strings.HasPrefix(line, "//\t") {
			break
		}
		cols := strings.Split(strings.TrimPrefix(line, "//\t"), "  ")
		cols = slices.DeleteFunc(cols, func(s string) bool { return strings.TrimSpace(s) == "" })
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		rows = append(rows, cols)
	}
	if len(rows) == 0 {
		t.Fatalf("doc.go has no table headed %q", header)
	}
	return rows
}

// The package documentation's tables list the table as it is.
func TestDocTablesMatchTable(t *testing.T) {
	var concepts []string
	for _, m := range metrics.Table() {
		if m.Split == nil {
			concepts = append(concepts, m.Name)
			continue
		}
		for _, v := range m.Values {
			concepts = append(concepts, m.Name+"{"+v+"}")
		}
	}
	var listed []string
	for _, r := range docRows(t, "concept (OTel name)") {
		listed = append(listed, r[0])
	}
	if !slices.Equal(listed, concepts) {
		t.Errorf("the names table lists\n%v\nthe table has\n%v", listed, concepts)
	}

	requires := map[metrics.Primitive]string{0: "-", metrics.Bulkhead: "bulkhead", metrics.RateLimit: "ratelimit",
		metrics.Retry: "retry", metrics.Fallback: "fallback", metrics.Hedge: "hedge", metrics.Cache: "cache", metrics.AdaptiveLimit: "adaptive", metrics.Cost: "cost", metrics.Machine: "machine"}
	rows := docRows(t, "concept  ")
	table := metrics.Table()
	if len(rows) != len(table) {
		t.Fatalf("the kinds table has %d rows, the table %d metrics", len(rows), len(table))
	}
	for i, m := range table {
		attr := "-"
		if len(m.Values) > 0 {
			key := m.Attribute.Label
			if key == "" {
				key = m.Attribute.Key
			}
			attr = key + ": " + strings.Join(m.Values, " | ")
		}
		want := []string{m.Name, m.Kind.String(), m.Unit, requires[m.Requires], attr}
		if !slices.Equal(rows[i], want) {
			t.Errorf("kinds table row %d:\n%q\nwant\n%q", i, rows[i], want)
		}
	}
}

// The cost metric reads the snapshot's exact sums, in currency units.
func TestReadCost(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "paid", Match: []string{"paid.*"}, Cost: &core.CostPolicy{PerCall: 0.002, PerRetry: 0.001, Currency: "USD"}}))
	g := reg.MustGuard("paid.x")
	for range 3 {
		_ = g.Do(context.Background(), func(context.Context) error { return nil })
	}
	s := g.Snapshot()
	if !metrics.PrimitivesOf(reg, &s).Has(metrics.Cost) {
		t.Fatal("a guard with a cost policy does not have the cost primitive")
	}
	for _, m := range metrics.Table() {
		if m.Name != "breakerbox.cost.amount" {
			continue
		}
		v := make([]float64, m.Len())
		if !m.Read(&s, v) || v[0] != 0.006 || v[1] != 0 {
			t.Fatalf("cost %v", v)
		}
	}
}
