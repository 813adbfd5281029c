package otelbreaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	logglobal "go.opentelemetry.io/otel/log/global"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/metrics"
)

// ScopeName is the instrumentation scope name of every meter, tracer and
// logger this package creates: the package's import path.
const ScopeName = "github.com/breakerbox/breakerbox/otelbreaker"

// Version is the version of this package, reported as the instrumentation
// scope version.
const Version = "0.1.0"

// Attribute keys this package sets on metrics, spans, span events and log
// records. Their values are bounded: guard and policy names come from the
// registry (never a URL or a user id), the others from fixed sets. The keys
// on metrics are the Keys of the metrics package's attributes.
const (
	// GuardKey names the guard ("payments.charge", "GET /users/{id}").
	GuardKey = attribute.Key("breakerbox.guard.name")
	// PolicyKey names the policy the guard was built from.
	PolicyKey = attribute.Key("breakerbox.policy.name")
	// OutcomeKey is what became of a call: success, failure, ignored or
	// rejected (and, for bulkheads and rate limiters, the outcomes their
	// metrics document).
	OutcomeKey = attribute.Key("breakerbox.outcome")
	// StateKey is a circuit breaker's state ("closed", "open", "half-open",
	// "forced-open", "disabled", "metrics-only").
	StateKey = attribute.Key("breakerbox.circuit_breaker.state")
	// RejectionReasonKey is why a guard rejected a call, on
	// breakerbox.guard.rejections: "circuit_open", "circuit_half_open",
	// "bulkhead_full" or "rate_limited".
	RejectionReasonKey = attribute.Key("breakerbox.rejection.reason")
	// PreviousStateKey is the state a breaker left, on state-change events.
	PreviousStateKey = attribute.Key("breakerbox.circuit_breaker.previous_state")
	// ReasonKey says why a breaker changed state, on state-change events.
	ReasonKey = attribute.Key("breakerbox.circuit_breaker.reason")
	// ActorKey names who made a manual state change, on state-change events.
	ActorKey = attribute.Key("breakerbox.circuit_breaker.actor")
	// RetryAfterKey is, on a rejected call's span, how many seconds the
	// guard advises waiting before trying again (absent when unknown).
	RetryAfterKey = attribute.Key("breakerbox.retry_after")
	// BulkheadStateKey splits bulkhead usage and limits into "in_use"
	// (running calls) and "queued" (waiting calls).
	BulkheadStateKey = attribute.Key("breakerbox.bulkhead.state")
	// AttemptKey is the attempt number on a retry span: 2 for the first
	// retry.
	AttemptKey = attribute.Key("breakerbox.retry.attempt")
	// RetryDelayKey is the delay in seconds a retry waited before its
	// attempt.
	RetryDelayKey = attribute.Key("breakerbox.retry.delay")
	// ErrorTypeKey is the OTel `error.type` attribute: the rejection's type
	// ("circuit_open", "bulkhead_full", "rate_limited") or the failure's
	// (core.ErrorType, "_OTHER" when the error has none).
	ErrorTypeKey = attribute.Key("error.type")
)

// StateChangeEventName is the event name of the log record and of the span
// event emitted on every circuit-breaker state change.
const StateChangeEventName = "breakerbox.circuit_breaker.state_change"

// RetrySpanName is the name of the spans WithRetrySpans creates.
const RetrySpanName = "breakerbox.retry"

// Option configures Instrument.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	mp         metric.MeterProvider
	tp         trace.TracerProvider
	lp         log.LoggerProvider
	duration   bool
	buckets    []float64
	retrySpans bool
	windows    metrics.WindowCounter // WithWindows
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.lp == nil {
		c.lp = logglobal.GetLoggerProvider()
	}
	if c.duration && len(c.buckets) == 0 {
		c.buckets = defaultDurationBuckets
	}
	return c
}

// WithMeterProvider sets the meter provider for the metrics. nil (the
// default) means the global provider, otel.GetMeterProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithTracerProvider sets the tracer provider used for retry spans
// (WithRetrySpans). Rejections and state changes are recorded on the spans
// already in the calls' contexts, whatever their provider. nil (the
// default) means the global provider, otel.GetTracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithLoggerProvider sets the logger provider for state-change events.
// nil (the default) means the global provider, from package
// go.opentelemetry.io/otel/log/global.
func WithLoggerProvider(lp log.LoggerProvider) Option {
	return optionFunc(func(c *config) { c.lp = lp })
}

// defaultDurationBuckets are the boundaries OTel's HTTP semantic
// conventions advise for request durations.
var defaultDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// WithDurationHistogram turns on the per-call duration histogram
// breakerbox.call.duration (seconds), with buckets as advised boundaries:
// when none are given, those OTel's HTTP semantic conventions advise for
// request durations, 5 ms to 10 s. A view can override them.
//
// It is off by default because it has a per-call cost: the guards then time
// every admitted call (two clock reads) and record one histogram
// measurement, with attribute sets built once per guard and outcome. See
// the package documentation for measured numbers.
func WithDurationHistogram(buckets ...float64) Option {
	return optionFunc(func(c *config) {
		c.duration = true
		c.buckets = buckets
	})
}

// WithRetrySpans turns on one span per retry made by core.Do: a child of
// the span active in the call's context, named RetrySpanName, from the
// moment the retry is decided (its backoff delay included) to the end of
// its attempt, with the attempt number (AttemptKey), the delay and the
// outcome. First attempts get no span of their own: the caller's span
// covers them. Retry spans need the completion hook, so, like
// WithDurationHistogram, this makes guards time every admitted call.
func WithRetrySpans() Option {
	return optionFunc(func(c *config) { c.retrySpans = true })
}

// WithWindows observes the count of wc's maintenance windows by state
// (metrics.MaintenanceWindows: the gauge breakerbox.maintenance.windows
// with the attribute breakerbox.maintenance.state, active or upcoming, and
// no guard attribute): give it the registry's maintenance.Scheduler.
func WithWindows(wc metrics.WindowCounter) Option {
	return optionFunc(func(c *config) { c.windows = wc })
}

// Instrumentation is the OpenTelemetry instrumentation of one registry,
// returned by Instrument. Shutdown stops it.
type Instrumentation struct {
	reg         *core.Registry
	removeHooks func()
	tracer      trace.Tracer
	logger      log.Logger

	closed   atomic.Bool
	metrics  *metricSet
	duration metric.Float64Histogram

	// guards caches per-guard attributes for the hooks: read without a lock
	// (copy on write under mu).
	guards atomic.Pointer[map[string]*guardInfo]
	mu     sync.Mutex

	retries *retrySpans
	windows metric.Registration // WithWindows; nil without
}

// Instrument makes reg observable through OpenTelemetry:
//
//   - metrics read from reg.Snapshot at collection time (no per-call cost),
//     plus the opt-in duration histogram;
//   - rejections recorded on the span active in the rejected call's context;
//   - state changes emitted as log events and mirrored as span events on the
//     span of the call that caused them;
//   - opt-in retry spans.
//
// Call it once per registry; each call adds another set of hooks and
// metrics. Shutdown undoes it.
func Instrument(reg *core.Registry, opts ...Option) (*Instrumentation, error) {
	if reg == nil {
		return nil, errors.New("otelbreaker: Instrument: nil registry")
	}
	cfg := newConfig(opts)
	if err := validBuckets(cfg.buckets); err != nil {
		return nil, err
	}
	in := &Instrumentation{
		reg:    reg,
		tracer: cfg.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
		logger: cfg.lp.Logger(ScopeName, log.WithInstrumentationVersion(Version)),
	}
	empty := map[string]*guardInfo{}
	in.guards.Store(&empty)
	meter := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	var err error
	if in.metrics, err = newMetricSet(meter, in); err != nil {
		return nil, err
	}
	if cfg.duration {
		d := metrics.CallDuration()
		in.duration, err = meter.Float64Histogram(d.Name,
			metric.WithDescription(d.Description),
			metric.WithUnit(d.Unit),
			metric.WithExplicitBucketBoundaries(cfg.buckets...))
		if err != nil {
			_ = in.metrics.reg.Unregister()
			return nil, err
		}
	}
	if cfg.retrySpans {
		in.retries = newRetrySpans()
	}
	if cfg.windows != nil {
		if in.windows, err = observeWindows(meter, cfg.windows); err != nil {
			_ = in.metrics.reg.Unregister()
			return nil, err
		}
	}
	h := core.Hooks{
		OnReject:      in.onReject,
		OnStateChange: in.onStateChange,
		OnHedge:       in.onHedge,
		// Custom states: machine.go.
		OnMachineChange: in.onMachineChange,
	}
	if cfg.duration || cfg.retrySpans {
		h.OnDone = in.onDone
	}
	if cfg.retrySpans {
		h.OnRetry = in.onRetry
	}
	in.removeHooks = reg.AddHooks(h)
	return in, nil
}

// Shutdown stops the instrumentation: it removes its hooks from the
// registry, unregisters the metric callback and ends open retry spans. It is
// safe to call more than once.
func (in *Instrumentation) Shutdown(ctx context.Context) error {
	if in.closed.Swap(true) {
		return nil
	}
	in.removeHooks()
	if in.retries != nil {
		in.retries.endAll()
	}
	if in.windows != nil {
		_ = in.windows.Unregister()
	}
	return in.metrics.reg.Unregister()
}

// observeWindows registers the maintenance windows' gauge, read from wc at
// each collection, with its two attribute sets built once.
func observeWindows(m metric.Meter, wc metrics.WindowCounter) (metric.Registration, error) {
	d := metrics.MaintenanceWindows()
	g, err := m.Int64ObservableGauge(d.Name, metric.WithDescription(d.Description), metric.WithUnit(d.Unit))
	if err != nil {
		return nil, err
	}
	active := metric.WithAttributeSet(attribute.NewSet(attribute.String(d.Attribute.Key, d.Values[0])))
	upcoming := metric.WithAttributeSet(attribute.NewSet(attribute.String(d.Attribute.Key, d.Values[1])))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		a, u := wc.WindowCounts()
		o.ObserveInt64(g, int64(a), active)
		o.ObserveInt64(g, int64(u), upcoming)
		return nil
	}, g)
}

// validBuckets checks WithDurationHistogram's boundaries: finite and
// strictly increasing, as OTel's explicit-bucket histograms need.
func validBuckets(b []float64) error {
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= b[i-1]) {
			return fmt.Errorf("otelbreaker: durationBuckets: %v must be finite and strictly increasing", b)
		}
	}
	return nil
}

// guardInfo is what the hooks need to know about one guard, built once.
type guardInfo struct {
	name, policy string
	attrs        []attribute.KeyValue // guard and policy
	// durOpts holds the histogram's prebuilt options per breaker.Result
	// (success, failure, ignore) for calls without an error type.
	durOpts [3][]metric.RecordOption
	// errOpts holds options per error type for failed and ignored calls;
	// copy on write under errMu.
	errOpts atomic.Pointer[map[errKey][]metric.RecordOption]
	errMu   sync.Mutex
}

type errKey struct {
	result  uint8
	errType string
}

// maxErrorTypes bounds the distinct error types one guard's histogram
// series carry; further types are recorded as "_OTHER".
const maxErrorTypes = 16

// info returns the cached attributes of the named guard, building them on
// first use. It takes no lock and allocates nothing when cached.
func (in *Instrumentation) info(name string) *guardInfo {
	if gi, ok := (*in.guards.Load())[name]; ok {
		return gi
	}
	policy := ""
	if g, ok := in.reg.Lookup(name); ok {
		policy = g.Policy().Name
	}
	return in.store(name, policy)
}

// store builds and caches the guard's info, replacing one built for another
// policy (a guard recreated after pruning, under new policies).
func (in *Instrumentation) store(name, policy string) *guardInfo {
	in.mu.Lock()
	defer in.mu.Unlock()
	old := *in.guards.Load()
	if gi, ok := old[name]; ok && gi.policy == policy {
		return gi
	}
	gi := &guardInfo{name: name, policy: policy}
	gi.attrs = []attribute.KeyValue{GuardKey.String(name), PolicyKey.String(policy)}
	for r, outcome := range resultNames {
		set := attribute.NewSet(GuardKey.String(name), PolicyKey.String(policy), OutcomeKey.String(outcome))
		if r != 0 {
			set = attribute.NewSet(GuardKey.String(name), PolicyKey.String(policy), OutcomeKey.String(outcome), ErrorTypeKey.String("_OTHER"))
		}
		gi.durOpts[r] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	emptyErr := map[errKey][]metric.RecordOption{}
	gi.errOpts.Store(&emptyErr)
	next := make(map[string]*guardInfo, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = gi
	in.guards.Store(&next)
	return gi
}

// forget drops cached guards whose name is gone from the registry or whose
// policy changed, so the cache follows pruning. Called at collection time.
func (in *Instrumentation) forget(live map[string]string) {
	cur := *in.guards.Load()
	stale := false
	for name, gi := range cur {
		if p, ok := live[name]; !ok || p != gi.policy {
			stale = true
			break
		}
	}
	if !stale {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	cur = *in.guards.Load()
	next := make(map[string]*guardInfo, len(cur))
	for name, gi := range cur {
		if p, ok := live[name]; ok && p == gi.policy {
			next[name] = gi
		}
	}
	in.guards.Store(&next)
}

// resultNames are the outcome attribute values of breaker.Result values.
var resultNames = [3]string{"success", "failure", "ignored"}
