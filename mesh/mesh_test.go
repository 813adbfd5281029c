package mesh

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func dur(d time.Duration) core.Duration { return core.Duration(d) }

// spec decodes the spec of the export's object of the given kind.
func spec(t *testing.T, res *Result, kind string) map[string]any {
	t.Helper()
	for _, o := range res.Objects {
		if o.Kind == kind {
			var v map[string]any
			if err := json.Unmarshal(o.JSON, &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in the export", kind)
	return nil
}

// at walks a decoded JSON value by keys and indexes ("spec.http.0.retries").
func at(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := int(k[0] - '0')
			if i >= len(x) {
				t.Fatalf("%s: index %d out of %d", path, i, len(x))
			}
			v = x[i]
		default:
			t.Fatalf("%s: %q in a %T", path, k, v)
		}
	}
	return v
}

func findLoss(res *Result, policy, field string, kind LossKind) (Loss, bool) {
	for _, l := range res.Loss {
		if l.Policy == policy && l.Field == field && l.Kind == kind {
			return l, true
		}
	}
	return Loss{}, false
}

func export(t *testing.T, f Format, opts Options, ps ...core.Policy) *Result {
	t.Helper()
	res, err := Export(core.Document{Policies: ps}, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestExtendsChainAndPresetAreResolved(t *testing.T) {
	doc := core.Document{Policies: []core.Policy{
		{Name: "base", Extends: "preset:stripe", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4}},
		{Name: "child", Extends: "base", Match: []string{"pay.example"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3}},
	}}
	res, err := Export(doc, Istio, Options{Service: "pay.example"})
	if err != nil {
		t.Fatal(err)
	}
	dr := spec(t, res, "DestinationRule")
	od := at(t, dr, "spec.trafficPolicy.outlierDetection").(map[string]any)
	if od["consecutive5xxErrors"] != 3.0 {
		t.Errorf("consecutive5xxErrors = %v, want the child's 3", od["consecutive5xxErrors"])
	}
	// The preset's breaker (time window of 60s, 30s open) is merged under
	// the child's breaker section, not replaced by it.
	if od["interval"] != "60s" || od["baseEjectionTime"] != "30s" {
		t.Errorf("interval %v, baseEjectionTime %v: want the preset's 60s and 30s", od["interval"], od["baseEjectionTime"])
	}
	if got := at(t, dr, "spec.trafficPolicy.connectionPool.http.http2MaxRequests"); got != 4.0 {
		t.Errorf("http2MaxRequests = %v, want the parent's 4", got)
	}
	if at(t, dr, "spec.host") != "pay.example" {
		t.Errorf("host = %v", at(t, dr, "spec.host"))
	}
}

func TestOneAttemptTurnsIstioDefaultRetriesOff(t *testing.T) {
	res := export(t, Istio, Options{}, core.Policy{Name: "reserve", Retry: &core.RetryPolicy{MaxAttempts: 1}, Timeout: dur(300 * time.Millisecond)})
	vs := spec(t, res, "VirtualService")
	if got := at(t, vs, "spec.http.0.retries.attempts"); got != 0.0 {
		t.Errorf("retries.attempts = %v, want 0 (Istio retries twice by default)", got)
	}
	if got := at(t, vs, "spec.http.0.timeout"); got != "0.3s" {
		t.Errorf("timeout = %v, want the attempt's 0.3s (one attempt: it bounds the call)", got)
	}
	if _, ok := findLoss(res, "reserve", "retry.maxAttempts", Warning); ok {
		t.Error("a retry multiplication warning for one attempt")
	}
}

func TestRetriesMultiplyWarning(t *testing.T) {
	for _, f := range []Format{Istio, Linkerd} {
		res := export(t, f, Options{}, core.Policy{Name: "p", Retry: &core.RetryPolicy{MaxAttempts: 4}})
		l, ok := findLoss(res, "p", "retry.maxAttempts", Warning)
		if !ok || !strings.Contains(l.Message, "4 × 4 = 16") {
			t.Errorf("%s: warning %+v, want one counting 4 × 4 = 16 attempts", f, l)
		}
	}
	res := export(t, Envoy, Options{}, core.Policy{Name: "p", Retry: &core.RetryPolicy{MaxAttempts: 4}})
	if l, ok := findLoss(res, "p", "retry", Lost); !ok || !strings.Contains(l.Message, "4 × 4") {
		t.Errorf("envoy: loss %+v, want the route retries left out, with the multiplication", l)
	}
}

func TestIstioRetriesAndTimeouts(t *testing.T) {
	res := export(t, Istio, Options{Port: 8080}, core.Policy{Name: "p", Match: []string{"svc"},
		Retry:   &core.RetryPolicy{MaxAttempts: 3, InitialDelay: dur(200 * time.Millisecond)},
		Timeout: dur(time.Second), TotalTimeout: dur(5 * time.Second)})
	vs := spec(t, res, "VirtualService")
	want := map[string]any{
		"spec.http.0.retries.attempts":                2.0,
		"spec.http.0.retries.perTryTimeout":           "1s",
		"spec.http.0.retries.backoff":                 "0.2s",
		"spec.http.0.retries.retryOn":                 retryOnHTTP,
		"spec.http.0.timeout":                         "5s",
		"spec.http.0.route.0.destination.port.number": 8080.0,
		"spec.http.0.route.0.destination.host":        "svc",
	}
	for path, w := range want {
		if got := at(t, vs, path); got != w {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
}

func TestNoConsecutiveRuleTurnsMeshDefaultsOff(t *testing.T) {
	// Istio's and Envoy's outlier detection eject after 5 consecutive 5xx
	// by default; a breaker without that rule must not gain it.
	p := core.Policy{Name: "p"}
	od := at(t, spec(t, export(t, Istio, Options{}, p), "DestinationRule"), "spec.trafficPolicy.outlierDetection").(map[string]any)
	if od["consecutive5xxErrors"] != 0.0 {
		t.Errorf("istio consecutive5xxErrors = %v, want 0", od["consecutive5xxErrors"])
	}
	c, err := EnvoyCluster(export(t, Envoy, Options{}, p).Objects[0])
	if err != nil {
		t.Fatal(err)
	}
	o := c.GetOutlierDetection()
	if o.GetEnforcingConsecutive_5Xx() == nil || o.GetEnforcingConsecutive_5Xx().GetValue() != 0 {
		t.Errorf("envoy enforcing_consecutive_5xx = %v, want 0", o.GetEnforcingConsecutive_5Xx())
	}
	if o.GetEnforcingSuccessRate() == nil || o.GetEnforcingSuccessRate().GetValue() != 0 {
		t.Errorf("envoy enforcing_success_rate = %v, want 0", o.GetEnforcingSuccessRate())
	}
	// The default breaker: 50% over 20 calls at least.
	if o.GetFailurePercentageThreshold().GetValue() != 50 || o.GetFailurePercentageRequestVolume().GetValue() != 20 {
		t.Errorf("envoy failure percentage %v over %v, want 50 over 20", o.GetFailurePercentageThreshold(), o.GetFailurePercentageRequestVolume())
	}
	if got := o.GetBaseEjectionTime().AsDuration(); got != 30*time.Second {
		t.Errorf("base_ejection_time = %s, want the default open duration 30s", got)
	}
	if got := o.GetMaxEjectionTime().AsDuration(); got != 300*time.Second {
		t.Errorf("max_ejection_time = %s, want 10 × 30s", got)
	}
}

func TestEnvoyThresholdsFromBulkheadAndBudget(t *testing.T) {
	res := export(t, Envoy, Options{Port: 5432}, core.Policy{Name: "db", Match: []string{"db.internal"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 10, MaxQueue: 20},
		Retry:    &core.RetryPolicy{MaxAttempts: 2, Budget: &core.RetryBudgetPolicy{Ratio: 0.1}}})
	c, err := EnvoyCluster(res.Objects[0])
	if err != nil {
		t.Fatal(err)
	}
	th := c.GetCircuitBreakers().GetThresholds()[0]
	if th.GetMaxConnections().GetValue() != 10 || th.GetMaxRequests().GetValue() != 10 || th.GetMaxPendingRequests().GetValue() != 20 || th.GetMaxRetries().GetValue() != 10 {
		t.Errorf("thresholds %v", th)
	}
	if th.GetRetryBudget().GetBudgetPercent().GetValue() != 10 || th.GetRetryBudget().GetMinRetryConcurrency().GetValue() != defaultBudgetMinPerSec {
		t.Errorf("retry budget %v", th.GetRetryBudget())
	}
	if c.GetName() != "db.internal" || c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() != 5432 {
		t.Errorf("cluster %s endpoint %v", c.GetName(), c.GetLoadAssignment())
	}
}

func TestLinkerdAnnotations(t *testing.T) {
	res := export(t, Linkerd, Options{Port: 80, Namespace: "shop"}, core.Policy{Name: "inv", Match: []string{"inventory"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, OpenDuration: dur(10 * time.Second), OpenJitter: 0.2},
		Retry:   &core.RetryPolicy{MaxAttempts: 3}, Timeout: dur(250 * time.Millisecond), TotalTimeout: dur(2 * time.Second)})
	svc := spec(t, res, "Service")
	ann := at(t, svc, "metadata.annotations").(map[string]any)
	for k, w := range map[string]string{
		linkerdFailureAccrual: "consecutive", linkerdMaxFailures: "5", linkerdMinPenalty: "10s",
		linkerdMaxPenalty: "100s", linkerdJitterRatio: "0.2",
	} {
		if ann[k] != w {
			t.Errorf("Service %s = %v, want %s", k, ann[k], w)
		}
	}
	if at(t, svc, "metadata.name") != "inventory" || at(t, svc, "metadata.namespace") != "shop" {
		t.Errorf("Service %v", svc["metadata"])
	}
	route := spec(t, res, "HTTPRoute")
	ann = at(t, route, "metadata.annotations").(map[string]any)
	for k, w := range map[string]string{
		linkerdRetryHTTP: "5xx", linkerdRetryLimit: "2", linkerdRetryTimeout: "0.25s", linkerdTimeoutRequest: "2s",
	} {
		if ann[k] != w {
			t.Errorf("HTTPRoute %s = %v, want %s", k, ann[k], w)
		}
	}
	if at(t, route, "spec.parentRefs.0.name") != "inventory" || at(t, route, "spec.parentRefs.0.port") != 80.0 {
		t.Errorf("parentRefs %v", at(t, route, "spec.parentRefs"))
	}
	if _, ok := findLoss(res, "inv", "breaker.failureRate", Lost); !ok {
		t.Error("no loss for the failure-rate rule Linkerd lacks")
	}
}

func TestTenantsAndVariantsAreReportedLost(t *testing.T) {
	doc := core.Document{
		Policies: []core.Policy{{Name: "search"}, {Name: "other"}},
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{
			{Tenant: "acme", Policies: []core.Policy{{Name: "search", RateLimit: &core.RateLimitPolicy{Limit: 5}}}},
		}},
		Variants: []core.VariantPolicy{{Name: "tight", Policy: "search", Percent: 10, Shadow: true}},
	}
	res, err := Export(doc, Envoy, Options{Service: "search"})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := findLoss(res, "search", "tenants.overrides[0].policies[0]", Lost); !ok || !strings.Contains(l.Message, `"acme"`) {
		t.Errorf("tenant overlay loss %+v", l)
	}
	if l, ok := findLoss(res, "search", "variants[0]", Lost); !ok || !strings.Contains(l.Message, "shadow") {
		t.Errorf("variant loss %+v", l)
	}
	for _, l := range res.Loss {
		if l.Policy == "other" {
			t.Errorf("loss reported for a policy not exported: %v", l)
		}
	}
}

func TestServiceSelectsTheMatchingPolicy(t *testing.T) {
	doc := core.Document{Policies: []core.Policy{
		{Name: "a", Match: []string{"cache.*"}},
		{Name: "b", Match: []string{"*"}},
	}}
	res, err := Export(doc, Istio, Options{Service: "cache.eu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 2 || res.Objects[0].Policy != "a" {
		t.Fatalf("objects %+v, want policy a's two", res.Objects)
	}
	if _, err := Export(core.Document{Policies: []core.Policy{{Name: "a", Match: []string{"x.*"}}}}, Istio, Options{Service: "y"}); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("err = %v, want ErrNoPolicy", err)
	}
}

func TestBadInputIsRefusedNamingTheValue(t *testing.T) {
	doc := core.Document{Policies: []core.Policy{{Name: "a"}}}
	cases := []struct {
		name string
		doc  core.Document
		f    Format
		opts Options
		want string
	}{
		{"format", doc, "nginx", Options{}, `format "nginx"`},
		{"port", doc, Istio, Options{Port: 70000}, "port 70000"},
		{"service", doc, Istio, Options{Service: "Bad Host"}, `service "Bad Host"`},
		{"namespace", doc, Istio, Options{Namespace: "Shop"}, `namespace "Shop"`},
		{"unknown parent", core.Document{Policies: []core.Policy{{Name: "a", Extends: "nope"}}}, Istio, Options{}, `unknown policy "nope"`},
		{"unknown preset", core.Document{Policies: []core.Policy{{Name: "a", Extends: "preset:nope"}}}, Istio, Options{}, `unknown policy "preset:nope"`},
		{"cycle", core.Document{Policies: []core.Policy{{Name: "a", Extends: "b"}, {Name: "b", Extends: "a"}}}, Istio, Options{}, "cycle a -> b -> a"},
		{"duplicate", core.Document{Policies: []core.Policy{{Name: "a"}, {Name: "a"}}}, Istio, Options{}, `duplicate policy name "a"`},
		{"invalid merged", core.Document{Policies: []core.Policy{{Name: "a", Breaker: &core.BreakerPolicy{FailureRate: 150}}}}, Envoy, Options{}, "150"},
	}
	for _, c := range cases {
		_, err := Export(c.doc, c.f, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %s", c.name, err, c.want)
		}
		if isOption := c.f == "nginx" || c.opts != (Options{}); errors.Is(err, ErrOption) != isOption {
			t.Errorf("%s: errors.Is(err, ErrOption) = %v, want %v", c.name, !isOption, isOption)
		}
	}
}

func TestSubMillisecondDurationsAreRaisedAndReported(t *testing.T) {
	res := export(t, Istio, Options{}, core.Policy{Name: "p", Timeout: dur(500 * time.Microsecond)})
	if got := at(t, spec(t, res, "VirtualService"), "spec.http.0.timeout"); got != "0.001s" {
		t.Errorf("timeout = %v, want 0.001s", got)
	}
	if _, ok := findLoss(res, "p", "totalTimeout", Approximated); !ok {
		t.Error("no loss entry for the raised duration")
	}
}

func TestProtoDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 1500 * time.Millisecond: "1.5s", time.Minute: "60s",
		time.Nanosecond: "0.000000001s", core.MaxDuration: "4611686018.427387904s",
	} {
		if got := protoDuration(d); got != want {
			t.Errorf("protoDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

// The extends chain is applied as the registry applies it: the same merged
// policy, section by section, for a chain within the document.
func TestExtendsChainMatchesTheRegistry(t *testing.T) {
	ps := []core.Policy{
		{Name: "base", Tags: []string{"t"}, Timeout: dur(time.Second),
			Breaker:  &core.BreakerPolicy{Window: "time", WindowDuration: dur(time.Minute), OpenDuration: dur(20 * time.Second), DisableFailureRate: true, ConsecutiveFailures: 3},
			Retry:    &core.RetryPolicy{MaxAttempts: 4, Budget: &core.RetryBudgetPolicy{Ratio: 0.3}},
			Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8, MaxQueue: 2}},
		{Name: "mid", Extends: "base", Breaker: &core.BreakerPolicy{OpenDuration: dur(5 * time.Second)}, Retry: &core.RetryPolicy{InitialDelay: dur(time.Millisecond)}},
		{Name: "leaf", Extends: "mid", Match: []string{"x"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 2}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 7}},
	}
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetPolicies(ps...); err != nil {
		t.Fatal(err)
	}
	byName := map[string]core.Policy{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	for _, p := range ps {
		want, err := reg.Policy(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := resolveChain(byName, p)
		if err != nil {
			t.Fatal(err)
		}
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if string(wj) != string(gj) {
			t.Errorf("%s:\n got  %s\n want %s (the registry's)", p.Name, gj, wj)
		}
	}
}
