package prometheus_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
)

const dashboardFile = "grafana/breakerbox.json"

// dashboardQuery is one PromQL expression of the dashboard, with where it
// was found.
type dashboardQuery struct {
	where, expr string
}

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' target expressions, and the selectors inside the template
// variables' label_values(selector, label) queries, with Grafana's
// variables replaced by values PromQL accepts.
func dashboardQueries(t *testing.T) (queries []dashboardQuery, titles []string) {
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
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, p := range dash.Panels {
		titles = append(titles, p.Title)
		for _, tg := range p.Targets {
			queries = append(queries, dashboardQuery{"panel " + p.Title, expandVariables(tg.Expr)})
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
			t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
		}
		queries = append(queries, dashboardQuery{"variable " + v.Name, expandVariables(m[1])})
	}
	return queries, titles
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// expandVariables replaces Grafana's variables with values that keep the
// expression valid PromQL.
func expandVariables(expr string) string {
	return strings.NewReplacer(
		"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
		"${guard}", ".*", "${policy}", ".*", "${instance}", ".*",
		"$guard", ".*", "$policy", ".*", "$instance", ".*",
	).Replace(expr)
}

// scrape serves the fixture through promhttp, exactly as a Prometheus
// server would scrape it, and parses the text exposition back.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(newFixture(t)))
	srv := httptest.NewServer(promhttp.HandlerFor(pr, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// sampleNames maps each sample name of the exposition to its family:
// summaries expose name_sum and name_count besides name.
func sampleNames(mfs map[string]*dto.MetricFamily) map[string]*dto.MetricFamily {
	out := map[string]*dto.MetricFamily{}
	for name, mf := range mfs {
		out[name] = mf
		switch mf.GetType() {
		case dto.MetricType_SUMMARY, dto.MetricType_HISTOGRAM:
			out[name+"_sum"], out[name+"_count"] = mf, mf
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			out[name+"_bucket"] = mf
		}
	}
	return out
}

var (
	// metricNameRE finds breakerbox metric names in an expression.
	metricNameRE = regexp.MustCompile(`\bbreakerbox_[a-zA-Z0-9_]+`)
	// selectorRE finds a metric name followed by its label matchers.
	selectorRE = regexp.MustCompile(`\b(breakerbox_[a-zA-Z0-9_]+)\s*\{([^}]*)\}`)
	// matcherRE splits label matchers.
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// groupingRE finds the label lists of by, without, on, ignoring and
	// group_left/right.
	groupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
)

// targetLabels are added by the Prometheus server at scrape time.
var targetLabels = []string{"instance", "job"}

// Every metric the dashboard queries exists in the collector's real
// output, every label it matches or groups by exists on the metrics it
// uses, and every exact label value it matches occurs.
func TestDashboardMatchesCollector(t *testing.T) {
	queries, titles := dashboardQueries(t)
	if len(queries) < 15 {
		t.Fatalf("only %d queries found in %s", len(queries), dashboardFile)
	}
	for _, want := range []string{"Breaker state", "Calls by outcome", "Rejections by reason", "Open breakers", "Bulkhead usage", "Retry rate"} {
		if !slices.Contains(titles, want) {
			t.Errorf("dashboard has no panel %q", want)
		}
	}
	samples := sampleNames(scrape(t))
	for _, q := range queries {
		names := metricNameRE.FindAllString(q.expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: no breakerbox metric in %q", q.where, q.expr)
		}
		labels := map[string]bool{}
		for _, l := range targetLabels {
			labels[l] = true
		}
		for _, name := range names {
			mf, ok := samples[name]
			if !ok {
				t.Errorf("%s: metric %s is not in the collector's output", q.where, name)
				continue
			}
			for l := range familyLabels(mf) {
				labels[l] = true
			}
		}
		for _, sel := range selectorRE.FindAllStringSubmatch(q.expr, -1) {
			mf, ok := samples[sel[1]]
			if !ok {
				continue
			}
			have := familyLabels(mf)
			for _, m := range matcherRE.FindAllStringSubmatch(sel[2], -1) {
				label, op, value := m[1], m[2], m[3]
				if slices.Contains(targetLabels, label) {
					continue
				}
				values, ok := have[label]
				if !ok {
					t.Errorf("%s: %s has no label %q", q.where, sel[1], label)
					continue
				}
				switch op {
				case "=":
					if !values[value] {
						t.Errorf("%s: %s{%s=%q} matches no series (values %v)", q.where, sel[1], label, value, values)
					}
				case "=~":
					re, err := regexp.Compile("^(?:" + value + ")$")
					if err != nil {
						t.Errorf("%s: bad regexp %q: %v", q.where, value, err)
						continue
					}
					if !matchesAny(re, values) {
						t.Errorf("%s: %s{%s=~%q} matches no series (values %v)", q.where, sel[1], label, value, values)
					}
				}
			}
		}
		for _, g := range groupingRE.FindAllStringSubmatch(q.expr, -1) {
			for l := range strings.SplitSeq(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("%s: groups by %q, which none of its metrics has", q.where, l)
				}
			}
		}
	}
}

// familyLabels returns each label of the family with the values it takes.
func familyLabels(mf *dto.MetricFamily) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if out[lp.GetName()] == nil {
				out[lp.GetName()] = map[string]bool{}
			}
			out[lp.GetName()][lp.GetValue()] = true
		}
	}
	return out
}

func matchesAny(re *regexp.Regexp, values map[string]bool) bool {
	for v := range values {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// The checks above would pass vacuously if they found nothing: make sure
// they catch a wrong name, a wrong label and a wrong value.
func TestDashboardCheckCatchesMistakes(t *testing.T) {
	samples := sampleNames(scrape(t))
	if _, ok := samples["breakerbox_circuit_breaker_call_total"]; ok {
		t.Fatal("a misspelt metric exists")
	}
	status := familyLabels(samples[bbprom.MetricBreakerStatus])
	if status["state"]["half_open"] || !status["state"]["half-open"] {
		t.Fatalf("state values %v", status["state"])
	}
	if _, ok := familyLabels(samples[bbprom.MetricBreakerCalls])["reason"]; ok {
		t.Fatal("calls have a reason label")
	}
	if m := selectorRE.FindStringSubmatch(`rate(breakerbox_x_total{a="b", c=~"d|e"}[5m])`); m == nil || len(matcherRE.FindAllString(m[2], -1)) != 2 {
		t.Fatalf("selector parsing: %q", m)
	}
}
