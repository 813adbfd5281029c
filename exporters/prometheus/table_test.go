package prometheus_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/metrics"
)

// docNames reads the names table of the metrics package's documentation:
// for each concept (name{value} for a split metric's parts), its
// Prometheus and Datadog names.
func docNames(t *testing.T) map[string][2]string {
	t.Helper()
	raw, err := os.ReadFile("../../metrics/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	in := false
	for line := range strings.Lines(string(raw)) {
		if !in {
			in = strings.HasPrefix(line, "//\tconcept (OTel name)")
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(f) != 3 {
			break
		}
		out[f[0]] = [2]string{f[1], f[2]}
	}
	if len(out) == 0 {
		t.Fatal("no names table in metrics/doc.go")
	}
	return out
}

// The collector renders every metric of the table, under the Prometheus
// name the metrics package documents, with its kind, HELP, label and
// values, and nothing that is not in the table but the guard info series.
func TestCollectorRendersTheTable(t *testing.T) {
	names := docNames(t)
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(newFixture(t)))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	rendered := map[string]bool{bbprom.MetricGuardInfo: true}
	check := func(m *metrics.Metric, concept, help, label string, values []string) {
		t.Helper()
		name, ok := names[concept]
		if !ok {
			t.Errorf("%s: not in the documented names table", concept)
			return
		}
		rendered[name[0]] = true
		mf := got[name[0]]
		if mf == nil {
			t.Errorf("%s: %s not exported", concept, name[0])
			return
		}
		if want := m.Kind == metrics.Counter; (mf.GetType() == dto.MetricType_COUNTER) != want {
			t.Errorf("%s: type %v for a %v", name[0], mf.GetType(), m.Kind)
		}
		if mf.GetHelp() != help {
			t.Errorf("%s: HELP %q, want %q", name[0], mf.GetHelp(), help)
		}
		wantLabels := []string{bbprom.LabelGuard, bbprom.LabelPolicy}
		if label != "" {
			wantLabels = append(wantLabels, label)
		}
		slices.Sort(wantLabels)
		seen := map[string]bool{}
		for _, s := range mf.GetMetric() {
			var ls []string
			for _, lp := range s.GetLabel() {
				ls = append(ls, lp.GetName())
				if lp.GetName() == label {
					seen[lp.GetValue()] = true
				}
			}
			if !slices.Equal(ls, wantLabels) {
				t.Errorf("%s: labels %v, want %v", name[0], ls, wantLabels)
			}
		}
		for _, v := range values {
			if !seen[v] {
				t.Errorf("%s: no series with %s=%q", name[0], label, v)
			}
		}
		if len(seen) != len(values) {
			t.Errorf("%s: %s values %v, want %v", name[0], label, seen, values)
		}
	}
	for _, m := range metrics.Table() {
		switch {
		case m.Split != nil:
			for i, p := range m.Split {
				check(&m, m.Name+"{"+m.Values[i]+"}", p.Description, "", nil)
			}
		default:
			check(&m, m.Name, m.Description, m.Attribute.Label, m.Values)
		}
	}
	for name := range got {
		if !rendered[name] {
			t.Errorf("%s is exported but is not in the metrics table", name)
		}
	}
	// The Metric constants are the rendered names.
	consts := slices.Clone(allMetricNames)
	slices.Sort(consts)
	var want []string
	for name := range rendered {
		want = append(want, name)
	}
	slices.Sort(want)
	if !slices.Equal(consts, want) {
		t.Errorf("Metric constants\n%v\nrendered names\n%v", consts, want)
	}
}

// The label constants are the metrics package's labels.
func TestLabelsAreTheTables(t *testing.T) {
	for got, want := range map[string]string{
		bbprom.LabelGuard: metrics.GuardName.Label, bbprom.LabelPolicy: metrics.PolicyName.Label,
		bbprom.LabelOutcome: metrics.Outcome.Label, bbprom.LabelState: metrics.State.Label,
		bbprom.LabelReason: metrics.Reason.Label,
	} {
		if got != want {
			t.Errorf("label %q, the table's %q", got, want)
		}
	}
}
