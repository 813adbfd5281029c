package core

import (
	"encoding/json"
	"errors"
	"github.com/breakerbox/breakerbox/core/breaker"
	"strings"
	"testing"
	"time"
)

// Issue 15, item 7: a Match of "*" never matched a name containing "/"
// (path.Match), so every gRPC guard ("/pkg.Svc/Method") and every HTTP
// route guard ("GET /quote/{sku}") fell to the default policy; a critical
// catch-all policy made no gRPC guard critical.
func TestPolicyStarMatchesNamesWithSlashes(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "all", Match: []string{"*"}, Critical: true}))
	for _, name := range []string{"/pkg.Svc/Method", "GET /quote/{sku}", "payments", "a//b"} {
		g := mustGuard(t, r, name)
		if g.Policy().Name != "all" || !g.Critical() {
			t.Errorf("guard %q: policy %q, critical %v; want the critical catch-all", name, g.Policy().Name, g.Critical())
		}
	}
}

func TestPolicyMatchRule(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "/pkg.Svc/Method", true},
		{"*", "GET /quote/{sku}", true},
		{"*", "payments", true},
		{"**", "/pkg.Svc/Method", true},
		{"**", "", true},

		// * stays within one /-separated segment.
		{"payments.*", "payments.charge", true},
		{"payments.*", "payments.charge/refund", false},
		{"GET /*", "GET /quote", true},
		{"GET /*", "GET /quote/{sku}", false},
		{"/pkg.Svc/*", "/pkg.Svc/Method", true},
		{"/pkg.Svc/*", "/pkg.Other/Method", false},
		{"/*/*", "/pkg.Svc/Method", true},
		{"/*/*", "GET /quote/{sku}", false},
		{"search*", "search", true},

		// ** crosses /.
		{"GET /**", "GET /quote/{sku}", true},
		{"GET /**", "GET /", true},
		{"GET /**", "POST /quote", false},
		{"/pkg.Svc/**", "/pkg.Svc/Method", true},
		{"**/Method", "/pkg.Svc/Method", true},
		{"**/Method", "/pkg.Svc/Other", false},
		{"a**b", "a/x/y/b", true},
		{"a**b", "a/x/y/c", false},
		{"**.charge", "payments/eu.charge", true},

		// ?, classes and escapes, never across /.
		{"a?c", "abc", true},
		{"a?c", "a/c", false},
		{"a?c", "aéc", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[^a-c]x", "dx", true},
		{"[^a-c]x", "/x", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`a\/b`, "a/b", true},
		{`[\]]`, "]", true},

		// Literals, including the characters route patterns use.
		{"GET /users/{id}", "GET /users/{id}", true},
		{"GET /users/{id}", "GET /users/7", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if err := (Policy{Name: "p", Match: []string{tt.pattern}}).Validate(); err != nil {
			t.Errorf("pattern %q refused: %v", tt.pattern, err)
			continue
		}
		p := Policy{Name: "p", Match: []string{tt.pattern}}
		if got := p.matches(tt.name); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestPolicyMatchPatternsValidated(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"a[", `match[1]: "a[" is not a valid pattern: `},
		{"[]", `match[1]: "[]" is not a valid pattern: `},
		{`a\`, `match[1]: "a\\" is not a valid pattern: `},
		{"a***", `match[1]: "a***" is not a valid pattern: `},
		{"", `match[1]: "" is not a valid pattern: `},
		{"[z-a]", `match[1]: "[z-a]" is not a valid pattern: `},
	}
	for _, tt := range tests {
		err := Policy{Name: "p", Match: []string{"ok.*", tt.pattern}}.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("pattern %q: %v, want %q", tt.pattern, err, tt.want)
		}
	}
}

// Issue 15, item 7: a duration that did not parse was refused without
// naming its field.
func TestPolicyJSONErrorsNameTheField(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"name":"p","breaker":{"openDuration":"3x"}}`, `core: policy "p": breaker.openDuration: "3x" is not a duration`},
		{`{"breaker":{"openDuration":"3x"},"name":"p"}`, `core: policy "p": breaker.openDuration: "3x" is not a duration`},
		{`{"name":"p","Breaker":{"openDuration":"3x"}}`, `Breaker: unknown key (keys are case-sensitive: "breaker")`},
		{`{"name":"p","breaker":{"OPENDURATION":"3x"}}`, `breaker.OPENDURATION: unknown key (keys are case-sensitive: "openDuration")`},
		{`{"name":"p","breaker":{"openDuraton":"3s"}}`, `breaker.openDuraton: unknown key (did you mean "openDuration"?)`},
		{`{"name":"p","unknown":1}`, `core: policy "p": unknown: unknown key`},
		{`{"name":"p","timeout":"1s","timeout":"2s"}`, `timeout: key "timeout" appears twice in one object`},
		{`{"name":"p","timeout":5}`, `core: policy "p": timeout: want a duration string such as "30s", got the number 5`},
		{`{"name":"p","retry":{"budget":{"window":"soon"}}}`, `retry.budget.window: "soon" is not a duration`},
		{`{"name":"p","breaker":{"halfOpenProbes":"3"}}`, `breaker.halfOpenProbes: want an integer, got the string "3"`},
		{`{"name":"p","bulkhead":{"maxConcurrent":1.5}}`, `bulkhead.maxConcurrent: want an integer, got the number 1.5`},
		{`{"name":"p","breaker":{"windowSize":1e30}}`, `breaker.windowSize: want an integer, got the number 1e30`},
		{`{"name":"p","breaker":{"rampSteps":[10,"x"]}}`, `breaker.rampSteps[1]: want a number, got the string "x"`},
		{`{"name":"p","fallbacks":[{"name":"a"},{"name":1}]}`, `fallbacks[1].name: want a string, got the number 1`},
		{`{"name":"p","match":"x"}`, `match: want an array, got the string "x"`},
		{`{"name":"p","critical":"yes"}`, `critical: want true or false, got the string "yes"`},
		{`{"name":"p","breaker":[]}`, `breaker: want an object, got an array`},
		{`{"name":7}`, `name: want a string, got the number 7`},
	}
	for _, tt := range tests {
		var p Policy
		err := json.Unmarshal([]byte(tt.in), &p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.in, err, tt.want)
			continue
		}
		if pe := (*PolicyError)(nil); !errors.As(err, &pe) {
			t.Errorf("%s: %T is not a *PolicyError", tt.in, err)
		}
	}

	// Nested in a document of the caller's, the path starts at the policy.
	var doc struct{ Policies []Policy }
	err := json.Unmarshal([]byte(`{"policies":[{"name":"a"},{"name":"b","retry":{"maxDelay":"1 minute"}}]}`), &doc)
	if err == nil || !strings.Contains(err.Error(), `core: policy "b": retry.maxDelay: "1 minute" is not a duration`) {
		t.Errorf("nested: %v", err)
	}

	// A section decoded on its own names its fields too.
	var bp BreakerPolicy
	err = json.Unmarshal([]byte(`{"probeTimeout":"x"}`), &bp)
	if err == nil || !strings.Contains(err.Error(), `probeTimeout: "x" is not a duration`) {
		t.Errorf("breaker section: %v", err)
	}

	// Syntax errors and good documents are decoded as before.
	var p Policy
	if err := json.Unmarshal([]byte(`{"name":"p",`), &p); err == nil {
		t.Error("truncated JSON accepted")
	}
	if err := json.Unmarshal([]byte(`{"name":"p","breaker":null,"retry":{"budget":{"ratio":-1}}}`), &p); err != nil || p.Name != "p" || p.Retry.Budget.Ratio != -1 {
		t.Errorf("good document: %v %+v", err, p)
	}
}

// Issue 15, item 7: zero means "not set" in every numeric field of every
// policy type: an explicit zero decodes as an absent field does, inherits
// from Extends, and otherwise takes the field's default (halfOpenProbes 0
// is the default 1, the same as every other field's zero). The required
// maxConcurrent and limit are given here, though a child validated merged
// with its parent could leave them to the parent.
func TestPolicyZeroMeansUnset(t *testing.T) {
	zeros := `{"name":"child","extends":"parent",
		"timeout":"0s","totalTimeout":"0s",
		"breaker":{"windowSize":0,"windowDuration":"0s","buckets":0,"minCalls":0,"failureRate":0,"slowCallDuration":"0s",
			"slowCallRate":0,"consecutiveFailures":0,"openDuration":"0s","openBackoff":0,"maxOpenDuration":"0s","openJitter":0,
			"halfOpenProbes":0,"successThreshold":0,"probeTimeout":"0s","rampStepDuration":"0s","rampMinCalls":0,"graceCalls":0,"graceDuration":"0s"},
		"bulkhead":{"maxConcurrent":4,"maxQueue":0,"maxWait":"0s"},
		"rateLimit":{"limit":10,"per":"0s","burst":0},
		"retry":{"maxAttempts":0,"initialDelay":"0s","maxDelay":"0s","maxTotal":"0s","multiplier":0,
			"budget":{"ratio":0,"minRetriesPerSec":0,"window":"0s"}}}`
	var child Policy
	if err := json.Unmarshal([]byte(zeros), &child); err != nil {
		t.Fatal(err)
	}
	parent := Policy{Name: "parent", Timeout: Duration(time.Second), TotalTimeout: Duration(3 * time.Second),
		Breaker: &BreakerPolicy{WindowSize: 10, MinCalls: 5, FailureRate: 40, SlowCallDuration: Duration(time.Second), SlowCallRate: 80,
			ConsecutiveFailures: 3, OpenDuration: Duration(time.Minute), OpenBackoff: 1.5, MaxOpenDuration: Duration(time.Hour), OpenJitter: 0.1,
			HalfOpenProbes: 3, SuccessThreshold: 2, ProbeTimeout: Duration(time.Second), RampStepDuration: Duration(time.Second), RampMinCalls: 2,
			GraceCalls: 4, GraceDuration: Duration(time.Second)},
		Bulkhead:  &BulkheadPolicy{MaxConcurrent: 4, MaxQueue: 2, MaxWait: Duration(time.Second)},
		RateLimit: &RateLimitPolicy{Limit: 10, Per: Duration(time.Minute), Burst: 5},
		Retry: &RetryPolicy{MaxAttempts: 4, InitialDelay: Duration(time.Millisecond), MaxDelay: Duration(time.Second), MaxTotal: Duration(time.Minute), Multiplier: 3,
			Budget: &RetryBudgetPolicy{Ratio: 0.5, MinRetriesPerSec: 2, Window: Duration(time.Minute)}},
	}
	r := mustRegistry(t, WithPolicies(parent, child))
	got, err := r.Policy("child")
	if err != nil {
		t.Fatal(err)
	}
	want := parent
	want.Name, want.Extends = "child", "parent"
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("explicit zeros did not all inherit:\n got %s\nwant %s", gj, wj)
	}
}

// Issue 15, item 5 (and issue 16, item 7): a duration that overflows once
// defaults are filled in (an open duration of 29 years makes a default
// maxOpenDuration of 290 years, past what a time.Duration holds) was
// accepted, and opened breakers "until" a time in the past.
func TestPolicyRefusesDurationsThatOverflow(t *testing.T) {
	year := 365 * 24 * time.Hour
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{Name: "p", Breaker: &BreakerPolicy{OpenDuration: Duration(200 * year)}}, `core: policy "p": breaker.openDuration: 1752000h0m0s is longer than the maximum, about 146 years`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{OpenDuration: Duration(time.Hour), MaxOpenDuration: Duration(200 * year)}}, `breaker.maxOpenDuration: 1752000h0m0s is longer than the maximum`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{Window: "time", WindowDuration: Duration(1<<62 + 1)}}, `breaker.windowDuration: `},
		{Policy{Name: "p", Breaker: &BreakerPolicy{SlowCallDuration: Duration(1<<62 + 1)}}, `breaker.slowCallDuration: `},
		{Policy{Name: "p", Breaker: &BreakerPolicy{ProbeTimeout: Duration(1<<62 + 1)}}, `breaker.probeTimeout: `},
		{Policy{Name: "p", Breaker: &BreakerPolicy{RampSteps: []float64{50}, RampStepDuration: Duration(1<<62 + 1)}}, `breaker.rampStepDuration: `},
		{Policy{Name: "p", Timeout: Duration(200 * year)}, `core: policy "p": timeout: 1752000h0m0s is longer than the maximum`},
		{Policy{Name: "p", TotalTimeout: Duration(1<<62 + 1)}, `totalTimeout: `},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1, MaxWait: Duration(1<<62 + 1)}}, `bulkhead.maxWait: `},
		{Policy{Name: "p", RateLimit: &RateLimitPolicy{Limit: 1, Per: Duration(1<<62 + 1)}}, `rateLimit.per: `},
		{Policy{Name: "p", Retry: &RetryPolicy{MaxDelay: Duration(1<<62 + 1)}}, `retry.maxDelay: `},
		{Policy{Name: "p", Retry: &RetryPolicy{MaxTotal: Duration(1<<62 + 1)}}, `retry.maxTotal: `},
		{Policy{Name: "p", Retry: &RetryPolicy{Budget: &RetryBudgetPolicy{Window: Duration(1<<62 + 1)}}}, `retry.budget.window: `},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.p, err, tt.want)
		}
	}
	// The limits themselves are accepted, and so is an open duration whose
	// default maxOpenDuration (10 ×) would pass the limit: it saturates.
	for _, ok := range []Policy{
		{Name: "p", Timeout: Duration(MaxDuration), Breaker: &BreakerPolicy{OpenDuration: Duration(MaxDuration), MaxOpenDuration: Duration(MaxDuration)}},
		{Name: "p", Breaker: &BreakerPolicy{OpenDuration: Duration(100 * year)}},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("durations at the maximum refused: %v", err)
		}
		cfg, err := ok.Breaker.BreakerConfig()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := breaker.New(cfg); err != nil {
			t.Errorf("breaker refused %+v: %v", cfg, err)
		}
	}
	if err := (Policy{Name: "p", Breaker: &BreakerPolicy{OpenDuration: Duration(MaxDuration / 10)}}).Validate(); err != nil {
		t.Errorf("an open duration whose default max is the maximum refused: %v", err)
	}

	// A long open duration inherited from a parent is checked against the
	// child's (default) maxOpenDuration once resolved.
	_, err := NewRegistry(WithPolicies(
		Policy{Name: "parent", Breaker: &BreakerPolicy{OpenDuration: Duration(2 * year), MaxOpenDuration: Duration(3 * year)}},
		Policy{Name: "child", Extends: "parent"}))
	if err != nil {
		t.Errorf("inherited open and max durations refused: %v", err)
	}
	// JSON: the longest duration Go can parse is refused with its field.
	var p Policy
	if err := json.Unmarshal([]byte(`{"name":"p","breaker":{"openDuration":"2562047h"}}`), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "breaker.openDuration: 2562047h0m0s is longer than the maximum") {
		t.Errorf("292 years: %v", err)
	}
}

// TestMatchNameReusesParsedPatterns: a registry matches every new guard's
// name against every policy's patterns; a pattern seen before is not
// parsed again (parsing each time made creating a guard per policy
// quadratic: 1,000 policies took 4.5 s). Matching allocates nothing then.
func TestMatchNameReusesParsedPatterns(t *testing.T) {
	const pattern, name = "GET /v1/{id}/**", "GET /v1/{id}/x/y"
	if ok, err := MatchName(pattern, name); !ok || err != nil {
		t.Fatalf("MatchName = %v, %v", ok, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = MatchName(pattern, name) }); n != 0 {
		t.Fatalf("MatchName of a pattern seen before allocates %v times, want 0", n)
	}
	if _, err := MatchName("[", "x"); err == nil {
		t.Fatal("a bad pattern matched without an error")
	}
}
