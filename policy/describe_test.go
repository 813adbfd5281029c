package policy_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func d(v time.Duration) core.Duration { return core.Duration(v) }

// goldenDoc uses every section the description has.
func goldenDoc() core.Document {
	return core.Document{
		Policies: []core.Policy{
			{
				Name: "base", Match: []string{"internal.*"}, Tags: []string{"internal"},
			},
			{
				Name: "payments", Extends: "base", Match: []string{"payments.*", "GET /charge/**"}, Critical: true,
				Breaker: &core.BreakerPolicy{
					Window: "time", WindowDuration: d(30 * time.Second), Buckets: 6, MinCalls: 10, FailureRate: 40,
					SlowCallDuration: d(2 * time.Second), ConsecutiveFailures: 5,
					OpenDuration: d(10 * time.Second), OpenJitter: 0.1, HalfOpenProbes: 2, SuccessThreshold: 3,
					GraceCalls: 3,
				},
				Bulkhead:     &core.BulkheadPolicy{MaxConcurrent: 20, MaxQueue: 50, MaxWait: d(200 * time.Millisecond)},
				RateLimit:    &core.RateLimitPolicy{Limit: 100},
				Retry:        &core.RetryPolicy{MaxAttempts: 4, MaxTotal: d(5 * time.Second), Budget: &core.RetryBudgetPolicy{Ratio: 0.1}},
				Timeout:      d(time.Second),
				TotalTimeout: d(8 * time.Second),
				Fallbacks:    []core.FallbackRef{{Name: "cached-quote", On: []string{"rejected", "timed_out"}}, {Name: "static"}},
			},
			{
				Name:      "search",
				Breaker:   &core.BreakerPolicy{RampSteps: []float64{10, 50}, OpenBackoff: 1, DisableFailureRate: true, ConsecutiveFailures: 3},
				RateLimit: &core.RateLimitPolicy{Algorithm: "sliding_window", Limit: 10, Per: d(time.Minute)},
				Retry:     &core.RetryPolicy{Jitter: "decorrelated", Budget: &core.RetryBudgetPolicy{Ratio: -1, MinRetriesPerSec: 2}},
			},
			{Name: "legacy", Breaker: &core.BreakerPolicy{Mode: "forced-open"}, Retry: &core.RetryPolicy{MaxAttempts: 1}},
		},
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{
			{Tenant: "acme", Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 20}, Timeout: d(3 * time.Second)}}},
			{Tenant: "*", Policies: []core.Policy{{Name: "search", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 5}}}},
		}},
		Variants: []core.VariantPolicy{
			{Name: "payments-tight", Policy: "payments", Percent: 10, Shadow: true, Override: core.Policy{Breaker: &core.BreakerPolicy{FailureRate: 25}}},
			{Name: "search-beta", Policy: "search", Attribute: "beta", Override: core.Policy{Timeout: d(500 * time.Millisecond)}},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the output; run go test -run %s -update and review the diff\n--- got:\n%s", path, t.Name(), got)
	}
}

func TestMarkdownGolden(t *testing.T) {
	doc := goldenDoc()
	md := policy.Markdown(doc)
	golden(t, "policies.md", md)
	if again := policy.Markdown(goldenDoc()); !bytes.Equal(md, again) {
		t.Fatal("Markdown is not deterministic")
	}
}

// The defaults the page spells out are the breaker's own, not copies: a
// policy without a breaker section names what breaker.New fills in.
func TestMarkdownDefaultsComeFromTheBreaker(t *testing.T) {
	b, _ := breaker.New(breaker.Config{})
	c := b.Config()
	md := string(policy.Markdown(core.Document{Policies: []core.Policy{{Name: "plain"}}}))
	for _, want := range []string{
		"the last " + strconv.Itoa(c.WindowSize) + " calls",
		"at least " + strconv.Itoa(c.MinCalls) + " calls",
		"It stays open " + c.OpenDuration.String(),
	} {
		if !strings.Contains(md, want) {
			t.Errorf("page lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownOfARefusedDocumentListsItsProblems(t *testing.T) {
	md := string(policy.Markdown(core.Document{Policies: []core.Policy{{Name: "a", Extends: "missing"}}}))
	if !strings.Contains(md, "would be refused") || !strings.Contains(md, "missing") {
		t.Fatalf("page of a refused document:\n%s", md)
	}
}
