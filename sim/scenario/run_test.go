package scenario

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/sim/timeline"
)

// examplePolicy is examples/scenarios/policy.yaml as JSON (this module
// does not depend on policyfile; cmd/breakerctl's test reads the YAML).
const examplePolicy = `{"policies":[{"name":"payments","match":["payments"],"timeout":"1s",
 "breaker":{"window":"time","windowDuration":"10s","minCalls":20,"failureRate":50,"openDuration":"15s","openBackoff":1},
 "retry":{"maxAttempts":3,"initialDelay":"100ms","maxDelay":"1s","budget":{"ratio":0.2,"minRetriesPerSec":1}},
 "bulkhead":{"maxConcurrent":40}}]}`

func mustDoc(t testing.TB, js string) core.Document {
	t.Helper()
	doc, err := core.ParseDocument([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func mustScenario(t testing.TB, name, y string) *Scenario {
	t.Helper()
	sc, err := Parse(name, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func exampleRun(t testing.TB, seed uint64) *timeline.Timeline {
	t.Helper()
	data, err := os.ReadFile("../../examples/scenarios/outage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Parse("outage.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	sc.Seed = seed
	tl, err := Run(sc, mustDoc(t, examplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestOutageTripsAndRecovers: evenly spaced calls (10/s, 10ms each) meet
// a one-minute outage. The breaker (5 consecutive failures, open 10s)
// opens on the fifth failed call, fails one probe every open duration
// while the outage lasts, and closes on the first probe after it. Every
// count and time is exact.
func TestOutageTripsAndRecovers(t *testing.T) {
	sc := mustScenario(t, "outage.yaml", `
guard: payments
duration: 3m
tick: 1s
traffic: 10
arrivals: uniform
latency: {fixed: 10ms}
phases:
  - {name: outage, from: 60s, to: 120s, event: outage}
`)
	doc := mustDoc(t, `{"policies":[{"name":"strict","match":["payments"],
	  "breaker":{"consecutiveFailures":5,"disableFailureRate":true,"openDuration":"10s","openBackoff":1}}]}`)
	tl, err := Run(sc, doc)
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) core.Duration { return core.Duration(time.Duration(n) * time.Millisecond) }
	want := []timeline.Transition{{At: ms(60410), From: "closed", To: "open"}}
	// Probes at 70.5s, 80.6s, ... (the first call after each half-open)
	// fail 10ms later, until the outage ends at 120s.
	for i, open := 0, 60410; i < 5; i++ {
		half := open + 10000
		probeEnd := (half/100+1)*100 + 10
		want = append(want, timeline.Transition{At: ms(half), From: "open", To: "half-open"}, timeline.Transition{At: ms(probeEnd), From: "half-open", To: "open"})
		open = probeEnd
	}
	want = append(want, timeline.Transition{At: ms(120910), From: "open", To: "half-open"}, timeline.Transition{At: ms(121010), From: "half-open", To: "closed"})
	if len(tl.Transitions) != len(want) {
		t.Fatalf("transitions:\n%v\nwant\n%v", tl.Transitions, want)
	}
	for i, w := range want {
		if g := tl.Transitions[i]; g.At != w.At || g.From != w.From || g.To != w.To {
			t.Errorf("transition %d = %+v, want %+v", i, g, w)
		}
	}
	s := tl.Summary
	wantSum := timeline.Summary{Calls: 1800, Succeeded: 1190, Failed: 10, Rejected: 600, Attempts: 1200,
		Rejections: timeline.Rejections{Open: 600}, Trips: 6, TimeOpen: core.Duration(time.Minute),
		P50: ms(10), P99: ms(10)}
	if s != wantSum {
		t.Errorf("summary\n%+v\nwant\n%+v", s, wantSum)
	}
	// The tick of the trip: calls at 60.0-60.4s fail, 60.5-60.9s are rejected.
	if p := tl.Points[60]; p.At != ms(61000) || p.Failed != 5 || p.Succeeded != 0 || p.Rejected.Open != 5 || p.State != "open" || p.Open != 0.59 {
		t.Errorf("tick 60-61s = %+v; want 5 failed, 5 rejected, open 59%% of it", p)
	}
	if len(tl.Points) != 180 || tl.Points[179].State != "closed" {
		t.Errorf("%d points, the last %+v; want 180, closed", len(tl.Points), tl.Points[len(tl.Points)-1])
	}
	t.Log("\n" + tl.Text())
}

// TestRetriesAndBudgetInABrownOut: in the example scenario the retry
// policy retries, the budget stops retries in the outage, the bulkhead's
// limit is carried, and the counts add up between points and summary.
func TestRetriesAndBudgetInABrownOut(t *testing.T) {
	tl := exampleRun(t, 42)
	s := tl.Summary
	if s.Retries == 0 || s.BudgetExhausted == 0 || s.Trips == 0 || s.Rejections.Open == 0 {
		t.Fatalf("summary %+v: want retries, budget refusals, trips and rejections", s)
	}
	if s.Calls != s.Succeeded+s.Failed+s.Rejected+s.Unfinished {
		t.Errorf("calls %d != succeeded %d + failed %d + rejected %d + unfinished %d", s.Calls, s.Succeeded, s.Failed, s.Rejected, s.Unfinished)
	}
	var calls, attempts, retries, budget int
	var rej timeline.Rejections
	for _, p := range tl.Points {
		calls += p.Calls
		attempts += p.Attempts
		retries += p.Retries
		budget += p.BudgetExhausted
		rej = rej.Add(p.Rejected)
		if p.BulkheadLimit != 40 {
			t.Fatalf("point %+v: bulkhead limit %d, want 40", p, p.BulkheadLimit)
		}
	}
	if calls != s.Calls || attempts != s.Attempts || retries != s.Retries || budget != s.BudgetExhausted || rej != s.Rejections {
		t.Errorf("points add up to calls %d, attempts %d, retries %d, budget %d, rejections %+v; summary %+v", calls, attempts, retries, budget, rej, s)
	}
	// Every attempt, admitted or rejected, is a first attempt or a retry
	// (a retry due after the end never runs).
	if tried := s.Attempts + s.Rejections.Total(); tried > s.Calls+s.Retries || tried < s.Calls+s.Retries-s.Unfinished {
		t.Errorf("attempts %d + rejected %d vs calls %d + retries %d (unfinished %d)", s.Attempts, s.Rejections.Total(), s.Calls, s.Retries, s.Unfinished)
	}
	// Retries cluster in the brown-out (6m-8m), where 15% of attempts fail.
	var in, out int
	for _, p := range tl.Points {
		if at := time.Duration(p.At); at > 6*time.Minute && at <= 8*time.Minute {
			in += p.Retries
		} else if at > 4*time.Minute+30*time.Second {
			out += p.Retries
		}
	}
	if in < 5*out {
		t.Errorf("retries in the brown-out %d, after the outage outside it %d: want the brown-out's to dominate", in, out)
	}
}

// TestSameSeedSameBytes: two runs with one seed give identical timelines,
// PNG and SVG bytes; another seed gives other numbers.
func TestSameSeedSameBytes(t *testing.T) {
	render := func(tl *timeline.Timeline) (pngB, svgB []byte) {
		var p, s bytes.Buffer
		if err := tl.PNG(&p); err != nil {
			t.Fatal(err)
		}
		if err := tl.SVG(&s); err != nil {
			t.Fatal(err)
		}
		return p.Bytes(), s.Bytes()
	}
	a, b := exampleRun(t, 7), exampleRun(t, 7)
	pa, sa := render(a)
	pb, sb := render(b)
	if !bytes.Equal(pa, pb) || !bytes.Equal(sa, sb) {
		t.Fatalf("same seed: PNG equal %v (%d/%d bytes), SVG equal %v (%d/%d bytes)", bytes.Equal(pa, pb), len(pa), len(pb), bytes.Equal(sa, sb), len(sa), len(sb))
	}
	if a.Text() != b.Text() {
		t.Fatalf("same seed, different summaries:\n%s\n%s", a.Text(), b.Text())
	}
	c := exampleRun(t, 8)
	if c.Summary == a.Summary {
		t.Fatalf("seeds 7 and 8 gave the same summary %+v", a.Summary)
	}
}

// TestChartContent decodes the PNG (its size, and ink in every panel) and
// parses the SVG (every panel's title and every series' legend entry are
// there as text).
func TestChartContent(t *testing.T) {
	tl := exampleRun(t, 42)
	var pb, sb bytes.Buffer
	if err := tl.PNG(&pb); err != nil {
		t.Fatal(err)
	}
	if err := tl.SVG(&sb); err != nil {
		t.Fatal(err)
	}
	panels := tl.Panels()
	if len(panels) != 5 {
		t.Fatalf("%d panels, want 5 (state, failure rate, calls, retries, concurrency)", len(panels))
	}

	img, err := png.Decode(&pb)
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if w != 10*timeline.PNGDPI || h != 10*timeline.PNGDPI {
		t.Fatalf("PNG is %dx%d, want %dx%d", w, h, 10*timeline.PNGDPI, 10*timeline.PNGDPI)
	}
	band := h / len(panels)
	for i, pn := range panels {
		colored := 0
		for y := i * band; y < (i+1)*band; y++ {
			for x := 0; x < w; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if r != g || g != b { // a series' color, not the black, white and grays of axes and grid
					colored++
				}
			}
		}
		if colored < 200 {
			t.Errorf("panel %d (%s): %d colored pixels, want a drawn series", i, pn.Title, colored)
		}
	}

	texts := map[string]bool{}
	paths := 0
	dec := xml.NewDecoder(&sb)
	var inText bool
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tk.Name.Local
			}
			inText = tk.Name.Local == "text"
			if tk.Name.Local == "path" {
				paths++
			}
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts[strings.TrimSpace(string(tk))] = true
			}
		}
	}
	if root != "svg" || paths < 20 {
		t.Fatalf("root element %q with %d paths, want svg with the chart's paths", root, paths)
	}
	for _, pn := range panels {
		if !texts[pn.Title] {
			t.Errorf("the SVG has no title %q", pn.Title)
		}
		if pn.States {
			for _, s := range []string{"closed", "half-open", "open"} {
				if !texts[s] {
					t.Errorf("the state panel has no %q tick", s)
				}
			}
			continue
		}
		for _, l := range pn.Lines {
			if !texts[l.Name] {
				t.Errorf("panel %q: the SVG has no legend entry %q", pn.Title, l.Name)
			}
		}
	}
	for _, want := range []string{"failed attempts", "breaker window", "rejected: breaker", "rejected: bulkhead", "retries", "stopped by budget", "in flight", "bulkhead limit", "time (s)"} {
		if !texts[want] {
			t.Errorf("the SVG has no text %q", want)
		}
	}
}

// TestRunRefusesAGuardTheDocumentCannotBuild: a document that does not
// apply is an error, not a panic.
func TestRunRefusesADocumentThatDoesNotApply(t *testing.T) {
	sc := mustScenario(t, "s.yaml", "duration: 1m\ntraffic: 1\n")
	doc := core.Document{Policies: []core.Policy{{Name: "p", Extends: "missing"}}}
	if _, err := Run(sc, doc); err == nil || !strings.Contains(err.Error(), "does not apply") {
		t.Fatalf("Run = %v, want the document refused", err)
	}
}

func BenchmarkRun(b *testing.B) {
	doc := mustDoc(b, examplePolicy)
	data, err := os.ReadFile("../../examples/scenarios/outage.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := Parse("outage.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	var calls int
	for b.Loop() {
		tl, err := Run(sc, doc)
		if err != nil {
			b.Fatal(err)
		}
		calls += tl.Summary.Calls
	}
	b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "calls/s")
}

// TestRunAcceptsDocumentsWithFallbacks: a document naming fallbacks
// applies (stand-ins are registered; fallbacks are not simulated, and the
// notes say so).
func TestRunAcceptsDocumentsWithFallbacks(t *testing.T) {
	sc := mustScenario(t, "s.yaml", "guard: cart\nduration: 10s\ntraffic: 5\n")
	doc := mustDoc(t, `{"policies":[{"name":"cart","match":["cart"],"fallbacks":[{"name":"from-db","on":["rejected"]}]},
	  {"name":"other","fallbacks":[{"name":"stale"}]}]}`)
	if got := doc.FallbackNames(); !slices.Equal(got, []string{"from-db", "stale"}) {
		t.Fatalf("FallbackNames = %v", got)
	}
	tl, err := Run(sc, doc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tl.Notes, func(n string) bool { return strings.Contains(n, "fallbacks are not simulated") }) {
		t.Fatalf("notes %v do not say fallbacks are not simulated", tl.Notes)
	}
}
