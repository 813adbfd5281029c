package dashboardcheck_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
)

const dashboardFile = "../grafana/breakerbox.json"

// query is one PromQL expression of the dashboard and where it was found.
type query struct{ where, expr string }

func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var out []query
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, query{"panel " + p.Title, expand(tg.Expr)})
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		m := labelValuesRE.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values(selector, label)", v.Name, q.Query)
		}
		out = append(out, query{"variable " + v.Name, expand(m[1])})
	}
	return out
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// expand replaces Grafana's variables with values valid in PromQL.
func expand(expr string) string {
	return strings.NewReplacer(
		"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
		"${guard}", ".*", "${policy}", ".*", "${instance}", ".*",
		"$guard", ".*", "$policy", ".*", "$instance", ".*",
	).Replace(expr)
}

// families gathers a registry whose guard has every primitive and returns
// its metric families by sample name (a summary's _sum and _count too).
func families(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg, err := core.NewRegistry(
		core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return struct{}{}, nil }),
		core.WithPolicies(core.Policy{
			Name:      "all",
			Match:     []string{"*"},
			Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 2},
			RateLimit: &core.RateLimitPolicy{Limit: 1000, Per: core.Duration(time.Hour)},
			Retry:     &core.RetryPolicy{MaxAttempts: 2, InitialDelay: core.Duration(time.Microsecond), Jitter: "none"},
			Fallbacks: []core.FallbackRef{{Name: "cached"}},
		}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("api")
	_ = g.Do(context.Background(), func(context.Context) error { return errors.New("boom") })
	reg.MustGuard("maintenance").ForceOpen(breaker.Manual{Actor: "test", Reason: "check"})

	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(reg))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
		if mf.GetType() == dto.MetricType_SUMMARY {
			out[mf.GetName()+"_sum"], out[mf.GetName()+"_count"] = mf, mf
		}
	}
	return out
}

// Every expression of the dashboard parses as PromQL, and every series
// selector in it names a metric of the collector's output and matches, label
// by label, at least one of its series.
func TestDashboardPromQL(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 15 {
		t.Fatalf("only %d queries in %s", len(queries), dashboardFile)
	}
	mfs := families(t)
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		expr, err := p.ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %v\n\t%s", q.where, err, q.expr)
			continue
		}
		selectors := 0
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selectors++
			mf, ok := mfs[vs.Name]
			if !ok {
				t.Errorf("%s: metric %q is not in the collector's output", q.where, vs.Name)
				return nil
			}
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName || m.Name == "instance" || m.Name == "job" {
					continue // set by the Prometheus server at scrape time
				}
				if !matchesSome(mf, m) {
					t.Errorf("%s: %s{%s} matches none of the collector's series", q.where, vs.Name, m)
				}
			}
			return nil
		})
		if selectors == 0 {
			t.Errorf("%s: selects no series: %s", q.where, q.expr)
		}
	}
}

func matchesSome(mf *dto.MetricFamily, m *labels.Matcher) bool {
	for _, metric := range mf.GetMetric() {
		for _, lp := range metric.GetLabel() {
			if lp.GetName() == m.Name && m.Matches(lp.GetValue()) {
				return true
			}
		}
	}
	return false
}
