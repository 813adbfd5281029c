package testgen

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// gen writes one generated file.
type gen struct {
	prefix  string
	imports map[string]bool
	reg     *core.Registry // the document applied, for routing
}

// helpers writes the file's package-level helpers.
func (g *gen) helpers(w *bytes.Buffer, docJSON []byte, fallbacks []string) {
	p := g.prefix
	fmt.Fprintf(w, "// %sDocument is the policy document the tests pin, as JSON. Edit it and the\n// tests of the behaviour the edit changes fail.\nconst %sDocument = %s\n\n", p, p, goString(string(docJSON)))
	fmt.Fprintf(w, "// %sPolicyFile, when set (go test -args -%s.policy=FILE), replaces\n// %sDocument by the JSON document in FILE: does it still do what the tests\n// pin?\n", p, p, p)
	fmt.Fprintf(w, "var %sPolicyFile = flag.String(%q, \"\", \"run the tests on this JSON policy document instead of the embedded one\")\n\n", p, p+".policy")
	g.imports["flag"] = true
	g.imports["os"] = true
	fmt.Fprintf(w, "// %sFailure is the error of the tests' failing calls.\nvar %sFailure = errors.New(\"testgen: injected failure\")\n\n", p, p)

	fmt.Fprintf(w, "// %sRegistry returns a fresh registry running %sDocument", p, p)
	if len(fallbacks) > 0 {
		w.WriteString(", with a stand-in\n// (answering nil) for each fallback the document names")
	}
	w.WriteString(".\n")
	fmt.Fprintf(w, "func %sRegistry(t *testing.T) *core.Registry {\n\tt.Helper()\n", p)
	fmt.Fprintf(w, "\tsrc := []byte(%sDocument)\n\tif *%sPolicyFile != \"\" {\n\t\tb, err := os.ReadFile(*%sPolicyFile)\n\t\tif err != nil {\n\t\t\tt.Fatal(err)\n\t\t}\n\t\tsrc = b\n\t}\n", p, p, p)
	w.WriteString("\tdoc, err := core.ParseDocument(src)\n\tif err != nil {\n\t\tt.Fatalf(\"the policy document does not parse: %v\", err)\n\t}\n")
	if len(fallbacks) > 0 {
		w.WriteString("\tstandIn := func(context.Context, fallback.Cause) (any, error) { return nil, nil }\n")
		w.WriteString("\treg, err := core.NewRegistry(\n")
		for _, f := range fallbacks {
			fmt.Fprintf(w, "\t\tcore.WithFallback(%q, standIn),\n", f)
		}
		w.WriteString("\t)\n")
	} else {
		w.WriteString("\treg, err := core.NewRegistry()\n")
	}
	w.WriteString("\tif err != nil {\n\t\tt.Fatal(err)\n\t}\n")
	w.WriteString("\tif _, err := reg.Apply(doc); err != nil {\n\t\tt.Fatalf(\"the policy document does not apply: %v\", err)\n\t}\n\treturn reg\n}\n\n")

	fmt.Fprintf(w, "// %sGuard returns the guard name of reg, and fails the test unless it runs\n// the policy named policy.\n", p)
	fmt.Fprintf(w, "func %sGuard(t *testing.T, reg *core.Registry, name, policy string) *core.Guard {\n\tt.Helper()\n", p)
	w.WriteString("\tg, err := reg.Guard(name)\n\tif err != nil {\n\t\tt.Fatalf(\"guard %q: %v\", name, err)\n\t}\n")
	w.WriteString("\tif got := g.Policy().Name; got != policy {\n\t\tt.Fatalf(\"guard %q runs policy %q, want %q\", name, got, policy)\n\t}\n\treturn g\n}\n\n")

	fmt.Fprintf(w, "// %sAllow asks for one call at the explicit time at: through the guard, or,\n// with direct, through its breaker alone (for a guard whose rate limit or\n// bulkhead would refuse the tests' bursts of calls). It returns the\n// call's report function.\n", p)
	fmt.Fprintf(w, `func %sAllow(g *core.Guard, direct bool, at time.Time) (doneAt func(time.Time, error), err error) {
	if direct {
		p, err := g.Breaker().AllowAt(context.Background(), at)
		if err != nil {
			return nil, err
		}
		return p.DoneAt, nil
	}
	p, err := g.AllowAt(context.Background(), at)
	if err != nil {
		return nil, err
	}
	return p.DoneAt, nil
}

`, p)

	fmt.Fprintf(w, "// %sPlay admits one call at at for each letter of outcomes, then reports\n// them in order: s succeeds at at, f fails at at, w succeeds slowly, at\n// at+latency. Every call must be admitted.\n", p)
	fmt.Fprintf(w, `func %sPlay(t *testing.T, g *core.Guard, direct bool, at time.Time, latency time.Duration, outcomes string) {
	t.Helper()
	done := make([]func(time.Time, error), len(outcomes))
	for i := range outcomes {
		var err error
		if done[i], err = %sAllow(g, direct, at); err != nil {
			t.Fatalf("call %%d of %%q: rejected: %%v", i+1, outcomes, err)
		}
	}
	for i, o := range outcomes {
		switch o {
		case 's':
			done[i](at, nil)
		case 'f':
			done[i](at, %sFailure)
		case 'w':
			done[i](at.Add(latency), nil)
		}
	}
}

`, p, p, p)

	fmt.Fprintf(w, "// %sTrip makes failing calls at at until g's breaker opens, whichever rule\n// opens it: the tests of what follows a trip do not depend on the trip rules.\n", p)
	fmt.Fprintf(w, `func %sTrip(t *testing.T, g *core.Guard, direct bool, at time.Time) {
	t.Helper()
	for range 100000 {
		if g.Breaker().State() == breaker.Open {
			return
		}
		done, err := %sAllow(g, direct, at)
		if err != nil {
			t.Fatalf("tripping: rejected: %%v (state %%s)", err, g.Breaker().State())
		}
		done(at, %sFailure)
	}
	t.Fatalf("100000 failures did not open the breaker (state %%s)", g.Breaker().State())
}

`, p, p, p)

	fmt.Fprintf(w, "// %sWantState fails the test unless g's breaker is in state want.\n", p)
	fmt.Fprintf(w, `func %sWantState(t *testing.T, g *core.Guard, want breaker.State, after string) {
	t.Helper()
	if s := g.Breaker().Snapshot(); s.State != want {
		t.Fatalf("after %%s: state %%s (last change: %%s), want %%s", after, s.State, s.LastTransition, want)
	}
}

`, p)

	fmt.Fprintf(w, "// %sWantTrip fails the test unless g's breaker is open and its last change\n// names the rule, as \"consecutive failures\" or \"failure rate\".\n", p)
	fmt.Fprintf(w, `func %sWantTrip(t *testing.T, g *core.Guard, rule, after string) {
	t.Helper()
	s := g.Breaker().Snapshot()
	if s.State != breaker.Open || !strings.Contains(s.LastTransition.Reason, rule) {
		t.Fatalf("after %%s: state %%s (last change: %%s), want open by the %%s rule", after, s.State, s.LastTransition, rule)
	}
}

`, p)
	g.imports["strings"] = true

	fmt.Fprintf(w, "// %sWantRejected fails the test unless a call at at is rejected.\n", p)
	fmt.Fprintf(w, `func %sWantRejected(t *testing.T, g *core.Guard, direct bool, at time.Time, what string) {
	t.Helper()
	done, err := %sAllow(g, direct, at)
	if err == nil {
		done(at, nil)
		t.Fatalf("%%s: a call was admitted, want it rejected (state %%s)", what, g.Breaker().State())
	}
}

`, p, p)

	fmt.Fprintf(w, "// %sWantAdmitted fails the test unless a call at at is admitted; it\n// reports err for it.\n", p)
	fmt.Fprintf(w, `func %sWantAdmitted(t *testing.T, g *core.Guard, direct bool, at time.Time, err error, what string) {
	t.Helper()
	done, aerr := %sAllow(g, direct, at)
	if aerr != nil {
		t.Fatalf("%%s: rejected: %%v (state %%s)", what, aerr, g.Breaker().State())
	}
	done(at, err)
}

`, p, p)
}

// plan is what the generator works out for one guard.
type plan struct {
	s       subject
	id      string
	p       core.Policy
	bc      breaker.Config
	direct  bool
	notes   []string      // not covered
	tripSeq string        // outcomes that trip the breaker, "" when none can
	tripLat time.Duration // the latency of its slow calls ('w')
}

func (g *gen) guard(w *bytes.Buffer, s subject, guard *core.Guard, id string) {
	pl := &plan{s: s, id: id, p: guard.Policy(), bc: guard.Breaker().Config()}
	p, bc := pl.p, pl.bc
	pl.direct = p.RateLimit != nil || p.Bulkhead != nil || p.Throttle != nil

	fmt.Fprintf(w, "// ---- guard %q: policy %q ----\n", s.guard, s.policy)
	if s.sample {
		w.WriteString("//\n")
		writeComment(w, fmt.Sprintf("%q is a sample name for the policy's pattern %q: the tests pin what every guard the pattern matches does.", s.guard, s.pattern))
	}
	if pl.direct {
		w.WriteString("//\n")
		writeComment(w, "The breaker tests drive the guard's breaker alone (its rate limit, bulkhead or throttle would refuse their bursts of calls); the tests of those gates go through the guard.")
	}
	w.WriteString("\n")
	g.policyTest(w, pl)

	if m := modeState(p); m != breaker.Closed {
		pl.notes = append(pl.notes, fmt.Sprintf("the breaker's rules: the policy starts it %s, so it neither trips nor probes", m))
	} else {
		g.breakerTests(w, pl)
	}
	g.retryTests(w, pl)
	g.timeoutTests(w, pl)
	g.gateTests(w, pl)

	if bc.Learned != nil {
		pl.notes = append(pl.notes, "the learned trip rule (its thresholds follow traffic)")
	}
	if p.Bulkhead != nil && p.Bulkhead.Adaptive != nil {
		pl.notes = append(pl.notes, "the adaptive bulkhead limit (it follows measured latency)")
	}
	if p.Hedge != nil {
		pl.notes = append(pl.notes, "hedging")
	}
	if p.Cache != nil {
		pl.notes = append(pl.notes, "the cached fallback")
	}
	if p.Throttle != nil {
		pl.notes = append(pl.notes, "the client-side throttle")
	}
	if len(p.DependsOn) > 0 {
		pl.notes = append(pl.notes, "dependencies ("+strings.Join(p.DependsOn, ", ")+")")
	}
	if len(p.Fallbacks) > 0 {
		pl.notes = append(pl.notes, "fallbacks (the tests register stand-ins)")
	}
	if len(pl.notes) > 0 {
		fmt.Fprintf(w, "// Not covered for guard %q:\n", s.guard)
		for _, n := range pl.notes {
			fmt.Fprintf(w, "//   - %s\n", n)
		}
		w.WriteString("\n")
	}
}

func (g *gen) open(w *bytes.Buffer, pl *plan, name, doc string) {
	writeComment(w, fmt.Sprintf("Test%s_%s_%s %s", g.exported(), pl.id, name, strings.ReplaceAll(doc, "\n// ", " ")))
	fmt.Fprintf(w, "func Test%s_%s_%s(t *testing.T) {\n", g.exported(), pl.id, name)
}

// exported is the prefix with its first letter upper-cased, which starts
// every test's name so that files from several documents can share a
// package.
func (g *gen) exported() string { return strings.ToUpper(g.prefix[:1]) + g.prefix[1:] }

func (g *gen) newGuard(w *bytes.Buffer, pl *plan) {
	fmt.Fprintf(w, "\tg := %sGuard(t, %sRegistry(t), %q, %q)\n", g.prefix, g.prefix, pl.s.guard, pl.s.policy)
}

func (g *gen) policyTest(w *bytes.Buffer, pl *plan) {
	// The other names the policy's patterns give, and where they route.
	type route struct{ name, policy, pattern string }
	var routes []route
	for _, pat := range pl.p.Match {
		name, _ := sampleName(pat)
		if name == "" || name == pl.s.guard {
			continue
		}
		if p, _, err := g.reg.PolicyFor(name); err == nil {
			routes = append(routes, route{name, p.Name, pat})
		}
	}
	doc := fmt.Sprintf("pins that guard %q runs policy %q", pl.s.guard, pl.s.policy)
	if len(routes) > 0 {
		doc += ", and where the names of its other patterns go"
	}
	g.open(w, pl, "Policy", doc+".")
	if len(routes) > 0 {
		fmt.Fprintf(w, "\treg := %sRegistry(t)\n", g.prefix)
		for _, r := range routes {
			if r.policy != pl.s.policy {
				fmt.Fprintf(w, "\t%sGuard(t, reg, %q, %q) // pattern %q: another policy takes the name\n", g.prefix, r.name, r.policy, r.pattern)
			} else {
				fmt.Fprintf(w, "\t%sGuard(t, reg, %q, %q) // pattern %q\n", g.prefix, r.name, r.policy, r.pattern)
			}
		}
		fmt.Fprintf(w, "\tg := %sGuard(t, reg, %q, %q)\n", g.prefix, pl.s.guard, pl.s.policy)
	} else {
		g.newGuard(w, pl)
	}
	if m := modeState(pl.p); m != breaker.Closed {
		fmt.Fprintf(w, "\t%sWantState(t, g, breaker.%s, \"creation (the policy's mode)\")\n", g.prefix, stateIdent(m))
	} else {
		fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, \"creation\")\n", g.prefix)
	}
	w.WriteString("}\n\n")
}

func stateIdent(s breaker.State) string {
	switch s {
	case breaker.Closed:
		return "Closed"
	case breaker.Open:
		return "Open"
	case breaker.HalfOpen:
		return "HalfOpen"
	case breaker.ForcedOpen:
		return "ForcedOpen"
	case breaker.Disabled:
		return "Disabled"
	case breaker.MetricsOnly:
		return "MetricsOnly"
	}
	return "Closed"
}

// rateOn reports whether the failure-rate rule is on.
func rateOn(bc breaker.Config) bool { return !bc.DisableFailureRate && bc.FailureRate > 0 }

// slowOn reports whether the slow-call rule is on.
func slowOn(bc breaker.Config) bool { return bc.SlowCallDuration > 0 && bc.SlowCallRate > 0 }

func (g *gen) breakerTests(w *bytes.Buffer, pl *plan) {
	bc := pl.bc
	M, k := bc.MinCalls, bc.ConsecutiveFailures
	dir := strconv.FormatBool(pl.direct)
	px := g.prefix
	const most = 5000 // calls a generated test may spell out
	if M > most {
		pl.notes = append(pl.notes, fmt.Sprintf("the rate rules: minCalls %d is too many calls to spell out", M))
		bc.DisableFailureRate, bc.SlowCallRate = true, 0
	}
	if k > most {
		pl.notes = append(pl.notes, fmt.Sprintf("consecutiveFailures %d: too many calls to spell out", k))
		k = 0
	}

	// How to trip it, for the tests of what follows a trip: failing calls
	// until it opens (pinned by the tests above, so the tests below do not
	// depend on the trip rules), or slow calls when only the slow-call rule
	// can trip it.
	switch {
	case k > 0 || rateOn(bc):
		pl.tripSeq = "f"
	case slowOn(bc) && slowFits(bc):
		pl.tripSeq, pl.tripLat = strings.Repeat("w", M), bc.SlowCallDuration
	}

	// Consecutive failures.
	if k > 0 {
		S := 0
		ok := true
		if rateOn(bc) && k-1 >= M {
			for S = 0; float64(k-1)*100 >= bc.FailureRate*float64(S+k-1); S++ {
			}
			if bc.Window == breaker.CountWindow && S+k-1 > bc.WindowSize {
				ok = false
			}
		}
		if ok {
			g.open(w, pl, "TripsAfterConsecutiveFailures", fmt.Sprintf("pins consecutiveFailures: %d failures in a row keep the\n// breaker closed, the %s opens it.", k-1, ordinal(k)))
			g.newGuard(w, pl)
			w.WriteString(t0Line)
			if S > 0 {
				fmt.Fprintf(w, "\t// %d successes first, so that the failure-rate rule does not trip first.\n", S)
			}
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, %q)\n", px, dir, strings.Repeat("s", S)+strings.Repeat("f", k-1))
			fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("%d consecutive failures", k-1))
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, \"f\")\n", px, dir)
			fmt.Fprintf(w, "\t%sWantTrip(t, g, \"consecutive failures\", %q)\n", px, fmt.Sprintf("%d consecutive failures", k))
			w.WriteString("}\n\n")
		} else {
			pl.notes = append(pl.notes, fmt.Sprintf("consecutiveFailures %d on its own: the failure-rate rule trips first within the window", k))
		}
	}

	// Failure rate.
	if rateOn(bc) {
		f := minFailures(bc.FailureRate, M)
		below, okBelow := arrange(M-f+1, f-1, k)
		at, okAt := arrange(M-f, f, k)
		if okBelow && okAt {
			g.open(w, pl, "TripsAtFailureRate", fmt.Sprintf("pins failureRate %s%% over minCalls %d: %d failures in %d calls\n// keep the breaker closed, %d open it.", fmtFloat(bc.FailureRate), M, f-1, M, f))
			g.newGuard(w, pl)
			w.WriteString(t0Line)
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, %q)\n", px, dir, below)
			fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("%d failures in %d calls", f-1, M))
			w.WriteString("\n\tg = " + px + "Guard(t, " + px + "Registry(t), " + strconv.Quote(pl.s.guard) + ", " + strconv.Quote(pl.s.policy) + ")\n")
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, %q)\n", px, dir, at)
			fmt.Fprintf(w, "\t%sWantTrip(t, g, \"failure rate\", %q)\n", px, fmt.Sprintf("%d failures in %d calls", f, M))
			w.WriteString("}\n\n")
		} else {
			pl.notes = append(pl.notes, fmt.Sprintf("the failure-rate threshold on its own: consecutiveFailures %d trips first", k))
		}
		f1 := min(f, M-1)
		first, okFirst := arrange(M-1-f1, f1, k)
		last := "s"
		if f1 < f {
			last = "f"
		}
		if okFirst && last == "f" && k > 0 && trailing(first)+1 >= k {
			okFirst = false
		}
		if okFirst && M > 1 {
			g.open(w, pl, "FailureRateNeedsMinCalls", fmt.Sprintf("pins minCalls %d: with %d calls the failure rate\n// holds and the breaker stays closed; the %s call opens it.", M, M-1, ordinal(M)))
			g.newGuard(w, pl)
			w.WriteString(t0Line)
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, %q)\n", px, dir, first)
			fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("%d calls, %d of them failed", M-1, f1))
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, %q)\n", px, dir, last)
			fmt.Fprintf(w, "\t%sWantTrip(t, g, \"failure rate\", %q)\n", px, fmt.Sprintf("call %d", M))
			w.WriteString("}\n\n")
		} else if M > 1 {
			pl.notes = append(pl.notes, fmt.Sprintf("minCalls %d on its own: consecutiveFailures %d trips first", M, k))
		}

		// The span of a time window.
		switch n := int64(bc.Buckets); {
		case bc.Window == breaker.TimeWindow && okAt && n >= 2:
			b := time.Duration(int64(bc.WindowDuration) / n)
			inside, outside := time.Duration(n-1)*b, time.Duration(n)*b
			g.open(w, pl, "TimeWindowSpan", fmt.Sprintf("pins windowDuration %s in %d buckets: calls made 1ns less than %s before still count towards the failure rate, calls made %s before no longer do.", bc.WindowDuration, n, inside, outside))
			for i, d := range []time.Duration{inside, outside} {
				expr := durExpr(d)
				if i == 0 {
					expr += "-time.Nanosecond"
				}
				if i == 0 {
					g.newGuard(w, pl)
					w.WriteString(t0Line)
				} else {
					w.WriteString("\n\tg = " + px + "Guard(t, " + px + "Registry(t), " + strconv.Quote(pl.s.guard) + ", " + strconv.Quote(pl.s.policy) + ")\n")
				}
				fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, %q)\n", px, dir, at[:len(at)-1])
				fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0.Add(%s), 0, \"f\")\n", px, dir, expr)
				if i == 0 {
					fmt.Fprintf(w, "\t%sWantTrip(t, g, \"failure rate\", %q)\n", px, fmt.Sprintf("%d failures in %d calls, the last 1ns less than %s after the others", f, M, d))
				} else {
					fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("a failure %s after %d calls", d, M-1))
				}
			}
			w.WriteString("}\n\n")
		}
	}

	// The size of a count window.
	if N := bc.WindowSize; bc.Window == breaker.CountWindow && N <= most {
		g.open(w, pl, "CountWindowSize", fmt.Sprintf("pins windowSize %d: the count window holds the last %d calls.", N, N))
		g.newGuard(w, pl)
		w.WriteString(t0Line)
		fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, strings.Repeat(\"s\", %d))\n", px, dir, N-1)
		fmt.Fprintf(w, "\tif n := g.Breaker().Snapshot().WindowCalls; n != %d {\n\t\tt.Fatalf(\"after %d calls: %%d in the window, want %d\", n)\n\t}\n", N-1, N-1, N-1)
		fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, 0, \"ss\")\n", px, dir)
		fmt.Fprintf(w, "\tif n := g.Breaker().Snapshot().WindowCalls; n != %d {\n\t\tt.Fatalf(\"after %d calls: %%d in the window, want %d\", n)\n\t}\n", N, N+1, N)
		w.WriteString("}\n\n")
	}

	// Slow calls.
	if slowOn(bc) {
		s := minFailures(bc.SlowCallRate, M)
		if slowFits(bc) {
			sd := bc.SlowCallDuration
			g.open(w, pl, "TripsAtSlowCallRate", fmt.Sprintf("pins slowCallDuration %s and slowCallRate %s%%: %d slow\n// calls in %d keep the breaker closed, %d open it, and %d calls just under\n// the slow-call duration do not.", sd, fmtFloat(bc.SlowCallRate), s-1, M, s, s))
			g.newGuard(w, pl)
			fmt.Fprintf(w, "\tconst slow = %s\n", durExpr(sd))
			w.WriteString(t0Line)
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, slow, %q)\n", px, dir, strings.Repeat("s", M-s+1)+strings.Repeat("w", s-1))
			fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("%d slow calls in %d", s-1, M))
			w.WriteString("\n\tg = " + px + "Guard(t, " + px + "Registry(t), " + strconv.Quote(pl.s.guard) + ", " + strconv.Quote(pl.s.policy) + ")\n")
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, slow-time.Nanosecond, %q)\n", px, dir, strings.Repeat("s", M-s)+strings.Repeat("w", s))
			fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("%d calls 1ns under the slow-call duration", s))
			w.WriteString("\n\tg = " + px + "Guard(t, " + px + "Registry(t), " + strconv.Quote(pl.s.guard) + ", " + strconv.Quote(pl.s.policy) + ")\n")
			fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, slow, %q)\n", px, dir, strings.Repeat("s", M-s)+strings.Repeat("w", s))
			fmt.Fprintf(w, "\t%sWantTrip(t, g, \"slow-call rate\", %q)\n", px, fmt.Sprintf("%d slow calls in %d", s, M))
			w.WriteString("}\n\n")
		} else {
			pl.notes = append(pl.notes, "the slow-call rule: slowCallDuration is too long for the time window to hold the calls")
		}
	}

	if pl.tripSeq == "" {
		pl.notes = append(pl.notes, "what follows a trip (open duration, probes, ramp): no rule the tests can drive trips the breaker")
		return
	}

	d := bc.OpenDuration
	lo, hi := openBounds(d, bc.OpenJitter)

	// Grace after a trip.
	if bc.GraceCalls > 0 || bc.GraceDuration > 0 {
		g.open(w, pl, "GraceAfterTrip", fmt.Sprintf("pins the grace after a trip: graceCalls %d, graceDuration %s.", bc.GraceCalls, bc.GraceDuration))
		g.newGuard(w, pl)
		g.trip(w, pl, false, true)
		if bc.GraceCalls > 0 {
			fmt.Fprintf(w, "\tfor i := range %d {\n\t\t%sWantAdmitted(t, g, %s, tripped, nil, fmt.Sprintf(\"grace call %%d of %d\", i+1))\n\t}\n", bc.GraceCalls, px, dir, bc.GraceCalls)
			g.imports["fmt"] = true
		}
		if bc.GraceDuration > 0 {
			fmt.Fprintf(w, "\tconst grace = %s\n", durExpr(bc.GraceDuration))
			fmt.Fprintf(w, "\t%sWantAdmitted(t, g, %s, tripped.Add(grace-time.Nanosecond), nil, \"1ns before the grace duration ends\")\n", px, dir)
			fmt.Fprintf(w, "\t%sWantRejected(t, g, %s, tripped.Add(grace), \"when the grace duration ends\")\n", px, dir)
		} else {
			fmt.Fprintf(w, "\t%sWantRejected(t, g, %s, tripped, \"after the grace calls\")\n", px, dir)
		}
		w.WriteString("}\n\n")
	}

	// Open duration.
	if bc.OpenJitter == 0 {
		g.open(w, pl, "StaysOpenForOpenDuration", fmt.Sprintf("pins openDuration %s: the breaker rejects 1ns before\n// it ends and half-opens when it ends.", d))
	} else {
		g.open(w, pl, "StaysOpenForOpenDuration", fmt.Sprintf("pins openDuration %s with openJitter %s: the\n// breaker stays open at least %s and at most %s.", d, fmtFloat(bc.OpenJitter), lo, hi))
	}
	g.newGuard(w, pl)
	g.trip(w, pl, true, true)
	g.openChecks(w, pl, "tripped", lo, hi, "open duration")
	w.WriteString("}\n\n")

	if len(bc.RampSteps) > 0 {
		g.rampTests(w, pl)
		return
	}

	// Probes in flight and the success threshold.
	P, S := bc.HalfOpenProbes, bc.SuccessThreshold
	g.open(w, pl, "HalfOpenProbes", fmt.Sprintf("pins halfOpenProbes %d: a half-open breaker admits %d\n// probes at once and rejects the next.", P, P))
	g.newGuard(w, pl)
	g.trip(w, pl, true, false)
	g.halfOpen(w, pl)
	fmt.Fprintf(w, "\tfor i := range %d {\n\t\tif _, err := %sAllow(g, %s, half); err != nil {\n\t\t\tt.Fatalf(\"probe %%d of %d: rejected: %%v\", i+1, err)\n\t\t}\n\t}\n", P, px, dir, P)
	fmt.Fprintf(w, "\t%sWantRejected(t, g, %s, half, %q)\n", px, dir, fmt.Sprintf("a probe beyond the %d in flight", P))
	w.WriteString("}\n\n")

	g.open(w, pl, "ProbesCloseAfterSuccessThreshold", fmt.Sprintf("pins successThreshold %d: %d successful probes\n// keep the breaker half-open, the %s closes it.", S, S-1, ordinal(S)))
	g.newGuard(w, pl)
	g.trip(w, pl, true, false)
	g.halfOpen(w, pl)
	if S > 1 {
		fmt.Fprintf(w, "\tfor i := range %d {\n\t\t%sWantAdmitted(t, g, %s, half, nil, fmt.Sprintf(\"probe %%d\", i+1))\n\t}\n", S-1, px, dir)
		g.imports["fmt"] = true
		fmt.Fprintf(w, "\t%sWantState(t, g, breaker.HalfOpen, %q)\n", px, fmt.Sprintf("%d successful probes", S-1))
	}
	fmt.Fprintf(w, "\t%sWantAdmitted(t, g, %s, half, nil, %q)\n", px, dir, fmt.Sprintf("probe %d", S))
	fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, %q)\n", px, fmt.Sprintf("%d successful probes", S))
	w.WriteString("}\n\n")

	// A failed probe reopens, for the grown open duration.
	d2 := growOpen(bc, 1)
	lo2, hi2 := openBounds(d2, bc.OpenJitter)
	if pastHorizon(hi, hi2) || pastHorizon(hi, bc.ProbeTimeout) {
		pl.notes = append(pl.notes, fmt.Sprintf("what follows a failed or lost probe: the open duration (%s) and the grown one (%s) or the probe timeout (%s) end past the breaker's clock (2^63ns, about 292 years, after its creation), where times saturate", d, d2, bc.ProbeTimeout))
		return
	}
	g.open(w, pl, "FailedProbeReopens", fmt.Sprintf("pins what a failed probe does: it reopens the breaker\n// for openDuration × openBackoff (%s × %s, at most maxOpenDuration %s): %s.", d, fmtFloat(bc.OpenBackoff), bc.MaxOpenDuration, d2))
	g.newGuard(w, pl)
	g.trip(w, pl, true, false)
	g.halfOpen(w, pl)
	fmt.Fprintf(w, "\t%sWantAdmitted(t, g, %s, half, %sFailure, \"a failing probe\")\n", px, dir, px)
	fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Open, \"a failed probe\")\n", px)
	g.openChecks(w, pl, "half", lo2, hi2, "grown open duration")
	w.WriteString("}\n\n")

	// A lost probe reopens at its timeout.
	pt := bc.ProbeTimeout
	g.open(w, pl, "LostProbeReopensAfterProbeTimeout", fmt.Sprintf("pins probeTimeout %s: a probe that never reports\n// holds the breaker half-open until then, and reopens it then.", pt))
	g.newGuard(w, pl)
	g.trip(w, pl, true, false)
	g.halfOpen(w, pl)
	fmt.Fprintf(w, "\tif _, err := %sAllow(g, %s, half); err != nil {\n\t\tt.Fatalf(\"probe: rejected: %%v\", err)\n\t}\n", px, dir)
	fmt.Fprintf(w, "\tconst probeTimeout = %s\n", durExpr(pt))
	fmt.Fprintf(w, "\tg.AdvanceAt(half.Add(probeTimeout - time.Nanosecond))\n\t%sWantState(t, g, breaker.HalfOpen, \"1ns before the probe timeout\")\n", px)
	fmt.Fprintf(w, "\tg.AdvanceAt(half.Add(probeTimeout))\n\t%sWantState(t, g, breaker.Open, \"the probe timeout\")\n", px)
	w.WriteString("}\n\n")
}

// t0Line starts an explicit-time test at now, without its monotonic
// reading: a time more than about 130 years later (past 2157) loses it, and
// a breaker then measures it by the wall clock; without a monotonic reading
// t0 and every time derived from it are measured alike, to the nanosecond.
const t0Line = "\tt0 := time.Now().Round(0)\n"

// pastHorizon reports whether a and b, added after a trip, end past what
// a breaker's clock (int64 nanoseconds since its creation) holds, with an
// hour to spare for the time between its creation and the trip.
func pastHorizon(a, b time.Duration) bool {
	return float64(a)+float64(b) >= float64(math.MaxInt64)-float64(time.Hour)
}

// growOpen is the open duration after n failed probes, without jitter.
func growOpen(bc breaker.Config, n int) time.Duration {
	d := float64(bc.OpenDuration) * math.Pow(bc.OpenBackoff, float64(n))
	d = min(d, float64(bc.MaxOpenDuration))
	return time.Duration(min(d, float64(breaker.MaxDuration)))
}

// slowFits reports whether slow calls reported slowCallDuration after
// their admission stay in the window with it.
func slowFits(bc breaker.Config) bool {
	if bc.Window != breaker.TimeWindow {
		return true
	}
	width := bc.WindowDuration / time.Duration(bc.Buckets)
	return bc.SlowCallDuration+width < bc.WindowDuration
}

// trip writes the statements that trip the breaker of g at t0, leaving
// tripped: the trip's time. With consumeGrace, the grace calls are used up.
func (g *gen) trip(w *bytes.Buffer, pl *plan, consumeGrace, keep bool) {
	px, dir := g.prefix, strconv.FormatBool(pl.direct)
	grace := consumeGrace && pl.bc.GraceCalls > 0
	keep = keep || grace
	w.WriteString(t0Line)
	if pl.tripLat > 0 {
		fmt.Fprintf(w, "\t%sPlay(t, g, %s, t0, %s, %q)\n", px, dir, durExpr(pl.tripLat), pl.tripSeq)
		if keep {
			fmt.Fprintf(w, "\ttripped := t0.Add(%s)\n", durExpr(pl.tripLat))
		}
		fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Open, \"the trip\")\n", px)
	} else {
		fmt.Fprintf(w, "\t%sTrip(t, g, %s, t0)\n", px, dir)
		if keep {
			w.WriteString("\ttripped := t0\n")
		}
	}
	if grace {
		fmt.Fprintf(w, "\tfor range %d { // the grace calls\n\t\t%sWantAdmitted(t, g, %s, tripped, nil, \"a grace call\")\n\t}\n", pl.bc.GraceCalls, px, dir)
	}
}

// openChecks writes the checks that the breaker, opened at the variable
// from, stays open for [lo, hi] and then half-opens.
func (g *gen) openChecks(w *bytes.Buffer, pl *plan, from string, lo, hi time.Duration, what string) {
	px, dir := g.prefix, strconv.FormatBool(pl.direct)
	if lo == hi {
		fmt.Fprintf(w, "\tconst openFor = %s\n", durExpr(lo))
		fmt.Fprintf(w, "\t%sWantRejected(t, g, %s, %s.Add(openFor-time.Nanosecond), \"1ns before the %s ends\")\n", px, dir, from, what)
		fmt.Fprintf(w, "\tg.AdvanceAt(%s.Add(openFor - time.Nanosecond))\n\t%sWantState(t, g, breaker.Open, \"1ns before the %s ends\")\n", from, px, what)
		fmt.Fprintf(w, "\tg.AdvanceAt(%s.Add(openFor))\n\t%sWantState(t, g, breaker.HalfOpen, \"the %s\")\n", from, px, what)
		return
	}
	fmt.Fprintf(w, "\tconst shortest, longest = %s, %s // with jitter\n", durExpr(lo), durExpr(hi))
	fmt.Fprintf(w, "\t%sWantRejected(t, g, %s, %s.Add(shortest-time.Nanosecond), \"1ns before the shortest %s ends\")\n", px, dir, from, what)
	fmt.Fprintf(w, "\tg.AdvanceAt(%s.Add(shortest - time.Nanosecond))\n\t%sWantState(t, g, breaker.Open, \"1ns before the shortest %s ends\")\n", from, px, what)
	fmt.Fprintf(w, "\tg.AdvanceAt(%s.Add(longest))\n\t%sWantState(t, g, breaker.HalfOpen, \"the longest %s\")\n", from, px, what)
}

// halfOpen writes the statements that half-open a tripped breaker when its
// open duration ends, leaving half: that time.
func (g *gen) halfOpen(w *bytes.Buffer, pl *plan) {
	fmt.Fprintf(w, "\thalf := g.Breaker().Snapshot().OpenUntil // the open duration is pinned above\n\tg.AdvanceAt(half)\n\t%sWantState(t, g, breaker.HalfOpen, \"the open duration\")\n", g.prefix)
}

func (g *gen) rampTests(w *bytes.Buffer, pl *plan) {
	bc := pl.bc
	px, dir := g.prefix, strconv.FormatBool(pl.direct)
	steps := bc.RampSteps
	var list []string
	for _, s := range steps {
		list = append(list, fmtFloat(s)+"%")
	}
	g.open(w, pl, "RampSteps", fmt.Sprintf("pins the ramp after the open duration: it admits\n// %s of the calls, one step per %s, and then closes.", strings.Join(list, ", then "), bc.RampStepDuration))
	g.newGuard(w, pl)
	g.trip(w, pl, true, false)
	g.halfOpen(w, pl)
	fmt.Fprintf(w, "\tconst step = %s\n", durExpr(bc.RampStepDuration))
	w.WriteString("\tadmitted := func(at time.Time) int { // of 100 calls at at, all succeeding\n\t\tn := 0\n\t\tfor range 100 {\n")
	fmt.Fprintf(w, "\t\t\tif done, err := %sAllow(g, %s, at); err == nil {\n\t\t\t\tdone(at, nil)\n\t\t\t\tn++\n\t\t\t}\n\t\t}\n\t\treturn n\n\t}\n", px, dir)
	for i, s := range steps {
		lo, hi := int(math.Floor(s)), int(math.Ceil(s))
		at := "half"
		if i > 0 {
			at = fmt.Sprintf("half.Add(%d * step)", i)
		}
		if lo == hi {
			fmt.Fprintf(w, "\tif n := admitted(%s); n != %d {\n\t\tt.Errorf(\"ramp step %d: %%d of 100 calls admitted, want %d\", n)\n\t}\n", at, lo, i+1, lo)
		} else {
			fmt.Fprintf(w, "\tif n := admitted(%s); n < %d || n > %d {\n\t\tt.Errorf(\"ramp step %d: %%d of 100 calls admitted, want %d or %d\", n)\n\t}\n", at, lo, hi, i+1, lo, hi)
		}
	}
	fmt.Fprintf(w, "\t%sWantState(t, g, breaker.HalfOpen, \"the last ramp step\")\n", px)
	fmt.Fprintf(w, "\t%sWantAdmitted(t, g, %s, half.Add(%d*step), nil, \"the end of the ramp\")\n", px, dir, len(steps))
	fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Closed, \"the end of the ramp\")\n", px)
	w.WriteString("}\n\n")

	n := bc.RampMinCalls
	g.open(w, pl, "RampFailuresReopen", fmt.Sprintf("pins rampMinCalls %d: %d failed calls in a ramp step\n// keep it ramping, the %s reopens the breaker.", n, n-1, ordinal(n)))
	g.newGuard(w, pl)
	g.trip(w, pl, true, false)
	g.halfOpen(w, pl)
	fmt.Fprintf(w, "\tfailed := 0\n\tfor range %d {\n", 100*n)
	fmt.Fprintf(w, "\t\tif failed == %d {\n\t\t\t%sWantState(t, g, breaker.HalfOpen, %q)\n\t\t}\n", n-1, px, fmt.Sprintf("%d failed ramp calls", n-1))
	fmt.Fprintf(w, "\t\tif done, err := %sAllow(g, %s, half); err == nil {\n\t\t\tdone(half, %sFailure)\n\t\t\tif failed++; failed == %d {\n\t\t\t\tbreak\n\t\t\t}\n\t\t}\n\t}\n", px, dir, px, n)
	fmt.Fprintf(w, "\t%sWantState(t, g, breaker.Open, %q)\n", px, fmt.Sprintf("%d failed ramp calls", n))
	w.WriteString("}\n\n")
}

func (g *gen) retryTests(w *bytes.Buffer, pl *plan) {
	p := pl.p
	r, err := retrierOf(p)
	if err != nil {
		return
	}
	cfg := r.Config()
	m := cfg.MaxAttempts
	px := g.prefix
	g.imports["testing/synctest"] = true

	// The attempts one failing call gets, and the delays between them.
	allowed := m - 1
	ratio, reserve, _, hasBudget := budgetOf(p)
	if hasBudget {
		allowed = min(allowed, int(math.Floor(ratio+reserve+1e-9)))
	}
	want := 1 + allowed
	var los, his []time.Duration
	var prevHi time.Duration
	var sumHi time.Duration
	for n := 2; n <= want; n++ {
		lo, hi := r.Delay(n, 0, 0), r.Delay(n, prevHi, 1)
		if cfg.Jitter == retry.DecorrelatedJitter {
			lo = cfg.InitialDelay
		}
		los, his = append(los, lo), append(his, hi)
		prevHi = hi
		sumHi += hi
	}
	exact := true
	var why []string
	if limit := min(nonZero(time.Duration(p.TotalTimeout)), nonZero(cfg.MaxTotal)); limit > 0 && sumHi >= limit {
		exact = false
		why = append(why, fmt.Sprintf("the delays may outlast the time limit %s", limit))
	}
	if b, ok := burstOf(p); ok && b < m {
		exact = false
		why = append(why, fmt.Sprintf("the rate limit's burst %d is below maxAttempts", b))
	}
	if p.Throttle != nil {
		exact = false
		why = append(why, "the throttle may refuse attempts")
	}
	doc := fmt.Sprintf("pins maxAttempts %d: a call that keeps failing is tried\n// %d times", m, want)
	if hasBudget && want < m {
		doc += fmt.Sprintf(" (a fresh retry budget allows %d retries)", allowed)
	}
	if len(los) > 0 {
		doc += ", and the retry delays (jitter " + cfg.Jitter.String() + ") are within their bounds"
	}
	doc += "."
	if !exact {
		doc = fmt.Sprintf("pins maxAttempts %d as an upper bound: a call that keeps\n// failing is tried at most %d times (not exactly: %s).", m, want, strings.Join(why, "; "))
	}
	g.open(w, pl, "RetryAttempts", doc)
	w.WriteString("\tsynctest.Test(t, func(t *testing.T) {\n")
	fmt.Fprintf(w, "\t\tg := %sGuard(t, %sRegistry(t), %q, %q)\n", px, px, pl.s.guard, pl.s.policy)
	w.WriteString("\t\tg.Disable(breaker.Manual{Actor: \"testgen\", Reason: \"count attempts without tripping\"})\n")
	fmt.Fprintf(w, "\t\tvar at []time.Time\n\t\t_ = g.Do(context.Background(), func(context.Context) error {\n\t\t\tat = append(at, time.Now())\n\t\t\treturn %sFailure\n\t\t})\n", px)
	if exact {
		fmt.Fprintf(w, "\t\tif len(at) != %d {\n\t\t\tt.Fatalf(\"%%d attempts, want %d\", len(at))\n\t\t}\n", want, want)
		for i := range los {
			n := i + 2
			if los[i] == his[i] {
				fmt.Fprintf(w, "\t\tif d := at[%d].Sub(at[%d]); d != %s {\n\t\t\tt.Errorf(\"delay before attempt %d: %%v, want %v\", d)\n\t\t}\n", n-1, n-2, durExpr(los[i]), n, los[i])
			} else {
				fmt.Fprintf(w, "\t\tif d := at[%d].Sub(at[%d]); d < %s || d > %s {\n\t\t\tt.Errorf(\"delay before attempt %d: %%v, want within [%v, %v]\", d)\n\t\t}\n", n-1, n-2, durExpr(los[i]), durExpr(his[i]), n, los[i], his[i])
			}
		}
	} else {
		fmt.Fprintf(w, "\t\tif len(at) < 1 || len(at) > %d {\n\t\t\tt.Fatalf(\"%%d attempts, want 1 to %d\", len(at))\n\t\t}\n", want, want)
	}
	w.WriteString("\t})\n}\n\n")

	// The budget.
	if !hasBudget || m < 2 {
		return
	}
	if ratio >= 1 {
		pl.notes = append(pl.notes, "the retry budget: its ratio lets every call retry")
		return
	}
	K := int(math.Floor(reserve/(1-ratio))) + 2
	switch b, limited := burstOf(p); {
	case K > 5000:
		pl.notes = append(pl.notes, fmt.Sprintf("the retry budget: it takes %d concurrent calls to exhaust", K))
		return
	case limited && b < K:
		pl.notes = append(pl.notes, fmt.Sprintf("the retry budget: the rate limit (burst %d) refuses the %d calls it takes to exhaust it", b, K))
		return
	case p.Bulkhead != nil:
		pl.notes = append(pl.notes, fmt.Sprintf("the retry budget: the bulkhead refuses the %d concurrent calls it takes to exhaust it", K))
		return
	case p.Throttle != nil:
		pl.notes = append(pl.notes, "the retry budget: the throttle refuses attempts")
		return
	}
	hiW := int(math.Floor(ratio*float64(K) + reserve + 1e-9))
	loW := min(K, int(math.Floor(reserve+1e-9)))
	g.imports["sync"] = true
	g.open(w, pl, "RetryBudget", fmt.Sprintf("pins the retry budget (ratio %s, %s retries a window\n// on top): of %d calls failing at once, between %d and %d get a first retry.", fmtFloat(ratio), fmtFloat(reserve), K, loW, hiW))
	w.WriteString("\tsynctest.Test(t, func(t *testing.T) {\n")
	fmt.Fprintf(w, "\t\treg := %sRegistry(t)\n\t\tstart := time.Now()\n\t\tvar mu sync.Mutex\n\t\tgranted := 0\n", px)
	w.WriteString("\t\treg.AddHooks(core.Hooks{OnRetry: func(_ context.Context, a core.RetryAttempt) {\n\t\t\tmu.Lock()\n\t\t\tif a.Number == 2 && time.Now().Equal(start) {\n\t\t\t\tgranted++\n\t\t\t}\n\t\t\tmu.Unlock()\n\t\t}})\n")
	fmt.Fprintf(w, "\t\tg := %sGuard(t, reg, %q, %q)\n", px, pl.s.guard, pl.s.policy)
	w.WriteString("\t\tg.Disable(breaker.Manual{Actor: \"testgen\", Reason: \"count retries without tripping\"})\n")
	fmt.Fprintf(w, "\t\tvar wg sync.WaitGroup\n\t\tfor range %d {\n\t\t\twg.Go(func() {\n\t\t\t\t_ = g.Do(context.Background(), func(context.Context) error { return %sFailure })\n\t\t\t})\n\t\t}\n\t\twg.Wait()\n", K, px)
	fmt.Fprintf(w, "\t\tif granted < %d || granted > %d {\n\t\t\tt.Errorf(\"%%d of %d failing calls got a retry, want %d to %d\", granted)\n\t\t}\n", loW, hiW, K, loW, hiW)
	w.WriteString("\t})\n}\n\n")
}

func nonZero(d time.Duration) time.Duration {
	if d <= 0 {
		return math.MaxInt64
	}
	return d
}

// gateTests pins the rate limit's burst and the bulkhead's limit.
func (g *gen) gateTests(w *bytes.Buffer, pl *plan) {
	p := pl.p
	px := g.prefix
	burst, limited := burstOf(p)
	if limited {
		cfg, _ := p.RateLimit.RateLimitConfig()
		switch {
		case cfg.Algorithm == ratelimit.AlgorithmSlidingWindow:
			pl.notes = append(pl.notes, "the sliding-window rate limit")
		case burst > 100000:
			pl.notes = append(pl.notes, fmt.Sprintf("the rate limit's burst %d (too many calls for a test)", burst))
		default:
			g.imports["github.com/breakerbox/breakerbox/ratelimit"] = true
			g.open(w, pl, "RateLimitBurst", fmt.Sprintf("pins the rate limit's burst: %d calls at once are\n// admitted, the next is limited.", burst))
			g.newGuard(w, pl)
			w.WriteString("\tg.Disable(breaker.Manual{Actor: \"testgen\", Reason: \"the rate limit alone\"})\n")
			w.WriteString(t0Line)
			fmt.Fprintf(w, "\tfor i := range %d {\n\t\t%sWantAdmitted(t, g, false, t0, nil, fmt.Sprintf(\"call %%d of the burst\", i+1))\n\t}\n", burst, px)
			g.imports["fmt"] = true
			fmt.Fprintf(w, "\tif _, err := g.AllowAt(context.Background(), t0); !errors.Is(err, ratelimit.ErrLimited) {\n\t\tt.Fatalf(\"call %d: %%v, want ratelimit.ErrLimited\", err)\n\t}\n", burst+1)
			w.WriteString("}\n\n")
		}
	}
	if p.Bulkhead != nil && p.Bulkhead.Adaptive == nil {
		n := p.Bulkhead.MaxConcurrent
		if n > 100000 {
			pl.notes = append(pl.notes, fmt.Sprintf("the bulkhead's limit %d (too many calls for a test)", n))
			return
		}
		if limited && burst <= n {
			pl.notes = append(pl.notes, "the bulkhead's limit: the rate limit's burst is smaller")
			return
		}
		g.imports["github.com/breakerbox/breakerbox/core/bulkhead"] = true
		g.open(w, pl, "BulkheadLimit", fmt.Sprintf("pins bulkhead.maxConcurrent %d: %d calls run at once,\n// the next is refused (an explicit-time call never queues).", n, n))
		g.newGuard(w, pl)
		w.WriteString("\tg.Disable(breaker.Manual{Actor: \"testgen\", Reason: \"the bulkhead alone\"})\n")
		w.WriteString(t0Line)
		fmt.Fprintf(w, "\tfor i := range %d {\n\t\tif _, err := g.AllowAt(context.Background(), t0); err != nil {\n\t\t\tt.Fatalf(\"call %%d of %d: %%v\", i+1, err)\n\t\t}\n\t}\n", n, n)
		fmt.Fprintf(w, "\tif _, err := g.AllowAt(context.Background(), t0); !errors.Is(err, bulkhead.ErrFull) {\n\t\tt.Fatalf(\"call %d: %%v, want bulkhead.ErrFull\", err)\n\t}\n", n+1)
		w.WriteString("}\n\n")
		if p.Bulkhead.MaxQueue > 0 || p.Bulkhead.MaxWait > 0 {
			pl.notes = append(pl.notes, "the bulkhead's queue (an explicit-time call never waits)")
		}
	}
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// writeComment writes text as // comment lines of at most about 76
// columns, breaking at spaces.
func writeComment(w *bytes.Buffer, text string) {
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > 76 {
			w.WriteString("// " + line + "\n")
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		w.WriteString("// " + line + "\n")
	}
}

// timeoutTests pins the attempt timeout and the total timeout, through Do
// in a synctest bubble with a function that runs until its context ends.
func (g *gen) timeoutTests(w *bytes.Buffer, pl *plan) {
	p, px := pl.p, g.prefix
	T, TT := time.Duration(p.Timeout), time.Duration(p.TotalTimeout)
	if T == 0 && TT == 0 {
		return
	}
	g.imports["testing/synctest"] = true
	start := func() {
		w.WriteString("\tsynctest.Test(t, func(t *testing.T) {\n")
		fmt.Fprintf(w, "\t\tg := %sGuard(t, %sRegistry(t), %q, %q)\n", px, px, pl.s.guard, pl.s.policy)
		w.WriteString("\t\tg.Disable(breaker.Manual{Actor: \"testgen\", Reason: \"time attempts without tripping\"})\n")
	}
	if T > 0 && (TT == 0 || TT > T) {
		g.open(w, pl, "AttemptTimeout", fmt.Sprintf("pins timeout %s: an attempt that does not return on its own is cancelled after %s.", T, T))
		start()
		w.WriteString("\t\tvar first time.Duration\n\t\t_ = g.Do(context.Background(), func(ctx context.Context) error {\n\t\t\tstart := time.Now()\n\t\t\t<-ctx.Done()\n\t\t\tif first == 0 {\n\t\t\t\tfirst = time.Since(start)\n\t\t\t}\n\t\t\treturn ctx.Err()\n\t\t})\n")
		fmt.Fprintf(w, "\t\tif first != %s {\n\t\t\tt.Errorf(\"the first attempt was cancelled after %%v, want %v\", first)\n\t\t}\n", durExpr(T), T)
		w.WriteString("\t})\n}\n\n")
	} else if T > 0 {
		pl.notes = append(pl.notes, fmt.Sprintf("timeout %s on its own: totalTimeout %s cuts the first attempt first", T, TT))
	}
	if TT > 0 {
		exact := T == 0 || T >= TT
		doc := fmt.Sprintf("pins totalTimeout %s: a call whose attempts do not return on their own ends %s after it starts, attempts and retry delays together.", TT, TT)
		if !exact {
			doc = fmt.Sprintf("pins totalTimeout %s: a call whose attempts do not return on their own ends at most %s after it starts, attempts and retry delays together.", TT, TT)
		}
		g.open(w, pl, "TotalTimeout", doc)
		start()
		w.WriteString("\t\tstart := time.Now()\n\t\t_ = g.Do(context.Background(), func(ctx context.Context) error {\n\t\t\t<-ctx.Done()\n\t\t\treturn ctx.Err()\n\t\t})\n")
		if exact {
			fmt.Fprintf(w, "\t\tif d := time.Since(start); d != %s {\n\t\t\tt.Errorf(\"the call ended after %%v, want %v\", d)\n\t\t}\n", durExpr(TT), TT)
		} else {
			fmt.Fprintf(w, "\t\tif d := time.Since(start); d > %s {\n\t\t\tt.Errorf(\"the call ended after %%v, want at most %v\", d)\n\t\t}\n", durExpr(TT), TT)
		}
		w.WriteString("\t})\n}\n\n")
	}
}
