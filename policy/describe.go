package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// The documentation of a document is described as blocks (headings,
// paragraphs, lists, diagrams) and rendered as Markdown. The dashboard
// renders the same Markdown (admin/dashboard/policies.js knows the subset
// used here: "#" headings, paragraphs, "- " lists, `code`, **strong** and
// ```mermaid blocks).

type blockKind uint8

const (
	blockH1 blockKind = iota + 1
	blockH2
	blockH3
	blockPara
	blockList
	blockMermaid
)

type block struct {
	kind  blockKind
	text  string   // headings and paragraphs
	lines []string // list items, diagram lines
}

type describer struct{ blocks []block }

func (d *describer) add(k blockKind, text string) {
	d.blocks = append(d.blocks, block{kind: k, text: text})
}
func (d *describer) list(items ...string) {
	d.blocks = append(d.blocks, block{kind: blockList, lines: items})
}
func (d *describer) para(format string, args ...any) { d.add(blockPara, fmt.Sprintf(format, args...)) }

// Markdown documents doc in plain words: for every policy, what trips its
// breaker, how long it stays open, how it recovers, its retries, limits,
// timeouts and fallbacks, with a Mermaid state diagram; then the tenant
// overlays and the variants. Defaults are spelled out, taken from the
// primitives' own configuration code. The output depends on doc alone
// (the same document gives the same bytes). A policy's Extends chain is
// resolved when the document is valid; the problems of an invalid one are
// listed at the top and its policies described as written.
func Markdown(doc core.Document) []byte { return renderMarkdown(describe(doc)) }

// resolvePolicies returns doc's policies with their Extends chains applied,
// by the registry's own rules (a scratch registry, with a stand-in for
// every fallback the document names), or the problems of an invalid
// document.
func resolvePolicies(doc core.Document) (map[string]core.Policy, error) {
	var opts []core.Option
	seen := map[string]bool{}
	stub := func(context.Context, fallback.Cause) (any, error) { return nil, nil }
	for _, p := range doc.Policies {
		for _, f := range p.Fallbacks {
			if f.Name != "" && !seen[f.Name] {
				seen[f.Name] = true
				opts = append(opts, core.WithFallback(f.Name, stub))
			}
		}
	}
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		return nil, err
	}
	if _, err := reg.Apply(doc); err != nil {
		return nil, err
	}
	out := make(map[string]core.Policy, len(doc.Policies))
	for _, p := range doc.Policies {
		rp, err := reg.Policy(p.Name)
		if err != nil {
			return nil, err
		}
		out[p.Name] = rp
	}
	return out, nil
}

func describe(doc core.Document) []block {
	d := &describer{}
	d.add(blockH1, "Policies")
	n := len(doc.Policies)
	d.para("This page describes the %d %s of the policy document with content hash `%s`, in the order they are matched. A field a policy does not set takes its parent's value (`extends`), else the default named here.", n, plural(n, "policy", "policies"), doc.Hash())
	resolved, err := resolvePolicies(doc)
	if err != nil {
		var de *core.DocumentError
		var probs []string
		if errors.As(err, &de) {
			for _, p := range de.Problems {
				probs = append(probs, p.String())
			}
		} else {
			probs = append(probs, err.Error())
		}
		d.para("**This document would be refused**, and its policies are described as written, without their parents:")
		d.list(probs...)
	}
	for _, p := range doc.Policies {
		rp, ok := resolved[p.Name]
		if !ok {
			rp = p
		}
		describePolicy(d, p, rp)
	}
	describeTenants(d, doc.Tenants)
	describeVariants(d, doc.Variants)
	return d.blocks
}

// describePolicy describes one policy: p as written, rp resolved.
func describePolicy(d *describer, p, rp core.Policy) {
	d.add(blockH2, "`"+p.Name+"`")
	var who []string
	who = append(who, "Applies to the guard named `"+p.Name+"`")
	if len(p.Match) > 0 {
		who[0] += " and to guards whose names match " + codeList(p.Match)
	}
	who[0] += "."
	if p.Extends != "" {
		who = append(who, "Extends `"+p.Extends+"`: what follows is the policy merged with its parents.")
	}
	if len(rp.Tags) > 0 {
		who = append(who, "Tags: "+codeList(rp.Tags)+".")
	}
	if rp.Critical {
		who = append(who, "Critical: readiness checks fail while its breaker is open.")
	}
	d.para("%s", strings.Join(who, " "))

	cfg, err := rp.Breaker.BreakerConfig()
	var br *breaker.Breaker
	if err == nil {
		br, err = breaker.New(cfg)
	}
	if err != nil {
		d.add(blockH3, "Breaker")
		d.para("The breaker section is invalid: %s.", err)
		return
	}
	c := br.Config() // the defaults filled in by the breaker itself
	mode := ""
	if rp.Breaker != nil {
		mode = rp.Breaker.Mode
	}

	d.add(blockH3, "What trips it")
	d.list(tripRules(c, mode)...)
	d.add(blockH3, "How long it stays open")
	d.list(openRules(c)...)
	d.add(blockH3, "How it recovers")
	d.list(recoveryRules(c)...)
	d.add(blockH3, "Retries")
	d.list(retryRules(rp.Retry)...)
	d.add(blockH3, "Limits")
	d.list(limitRules(rp.Bulkhead, rp.RateLimit)...)
	d.add(blockH3, "Timeouts and fallbacks")
	d.list(timeoutRules(rp)...)
	d.add(blockH3, "State diagram")
	d.blocks = append(d.blocks, block{kind: blockMermaid, lines: diagram(c, mode)})
}

func tripRules(c breaker.Config, mode string) []string {
	var out []string
	switch mode {
	case "disabled":
		out = append(out, "The breaker starts **disabled**: it admits every call and never trips until an operator releases it; the rules below apply from then on.")
	case "forced-open":
		out = append(out, "The breaker starts **forced open**: it rejects every call until an operator releases it; the rules below apply from then on.")
	case "metrics-only":
		out = append(out, "The breaker runs **metrics-only**: it records calls and counts the trips the rules below would make, but never rejects a call.")
	}
	if c.Window == breaker.TimeWindow {
		out = append(out, fmt.Sprintf("It watches the calls of the last %s (a time window in %d buckets of %s).", dur(c.WindowDuration), c.Buckets, dur(c.WindowDuration/time.Duration(c.Buckets))))
	} else {
		out = append(out, fmt.Sprintf("It watches the last %d calls (a count window).", c.WindowSize))
	}
	if c.FailureRate > 0 {
		out = append(out, fmt.Sprintf("It opens when at least %s of the calls in the window failed, once the window holds at least %d calls.", pct(c.FailureRate), c.MinCalls))
	} else {
		out = append(out, "The failure-rate rule is off.")
	}
	if c.SlowCallDuration > 0 {
		out = append(out, fmt.Sprintf("A call that takes %s or longer is slow; it opens when at least %s of the calls in the window were slow, once the window holds at least %d calls.", dur(c.SlowCallDuration), pct(c.SlowCallRate), c.MinCalls))
	} else {
		out = append(out, "Slow calls are not tracked (no `slowCallDuration`).")
	}
	if c.ConsecutiveFailures > 0 {
		out = append(out, fmt.Sprintf("It opens after %d failures in a row, however long they take.", c.ConsecutiveFailures))
	} else {
		out = append(out, "There is no consecutive-failures rule.")
	}
	if c.FailureRate == 0 && c.SlowCallDuration == 0 && c.ConsecutiveFailures == 0 {
		out = append(out, "With no rule on, it never opens by itself; only an operator can open it.")
	}
	switch {
	case c.GraceCalls > 0 && c.GraceDuration > 0:
		out = append(out, fmt.Sprintf("After it trips, it still lets %d more calls through, for at most %s, before it rejects.", c.GraceCalls, dur(c.GraceDuration)))
	case c.GraceCalls > 0:
		out = append(out, fmt.Sprintf("After it trips, it still lets %d more calls through before it rejects.", c.GraceCalls))
	case c.GraceDuration > 0:
		out = append(out, fmt.Sprintf("After it trips, it still lets calls through for %s before it rejects.", dur(c.GraceDuration)))
	}
	out = append(out, "A call fails when it returns an error; a call its caller cancelled is ignored (the default classification; adapters classify status codes).")
	return out
}

func openRules(c breaker.Config) []string {
	var out []string
	if c.OpenBackoff == 1 {
		out = append(out, fmt.Sprintf("It stays open %s each time.", dur(c.OpenDuration)))
	} else {
		out = append(out, fmt.Sprintf("It stays open %s after it trips. Each failed probe multiplies the next open period by %s, up to %s; the period goes back to %s when the breaker closes.", dur(c.OpenDuration), num(c.OpenBackoff), dur(c.MaxOpenDuration), dur(c.OpenDuration)))
	}
	if c.OpenJitter > 0 {
		out = append(out, fmt.Sprintf("Each open period varies at random by up to ±%s, so instances that tripped together do not probe together.", pct(c.OpenJitter*100)))
	} else {
		out = append(out, "Open periods have no jitter.")
	}
	out = append(out, "Rejected calls carry a retry-after of the time left open.")
	return out
}

func recoveryRules(c breaker.Config) []string {
	if len(c.RampSteps) > 0 {
		steps := make([]string, len(c.RampSteps))
		for i, s := range c.RampSteps {
			steps[i] = pct(s)
		}
		return []string{
			fmt.Sprintf("After the open period it ramps traffic back instead of probing: it admits %s of the calls, one step every %s, and closes after the last step.", strings.Join(steps, ", then "), dur(c.RampStepDuration)),
			fmt.Sprintf("A step whose failure rate reaches %s over at least %d calls opens it again.", pct(rampRate(c)), c.RampMinCalls),
		}
	}
	return []string{
		fmt.Sprintf("After the open period it turns half-open and lets at most %d probe %s run at once.", c.HalfOpenProbes, plural(c.HalfOpenProbes, "call", "calls")),
		fmt.Sprintf("%d successful %s %s it; any failed probe opens it again%s.", c.SuccessThreshold, plural(c.SuccessThreshold, "probe", "probes"), plural(c.SuccessThreshold, "closes", "close"), slowProbe(c)),
		fmt.Sprintf("A probe that does not report within %s counts as failed, so a lost probe cannot hold it half-open.", dur(c.ProbeTimeout)),
	}
}

func slowProbe(c breaker.Config) string {
	if c.SlowCallDuration > 0 && c.SlowCallRate > 0 {
		return ", as does a slow one"
	}
	return ""
}

// rampRate is the failure rate that ends a ramp step: the breaker's, or
// the default failure rate when the rule is off (the breaker's own rule).
func rampRate(c breaker.Config) float64 {
	if c.FailureRate > 0 {
		return c.FailureRate
	}
	d, _ := breaker.New(breaker.Config{})
	return d.Config().FailureRate
}

func retryRules(p *core.RetryPolicy) []string {
	if p == nil {
		return []string{"Calls made through `Do` get one attempt: no retries."}
	}
	var c retry.Config
	rc, err := p.RetryConfig()
	var r *retry.Retrier
	if err == nil {
		r, err = retry.New(rc)
	}
	if err != nil {
		return []string{"The retry section is invalid: " + err.Error() + "."}
	}
	c = r.Config()
	if c.MaxAttempts == 1 {
		return []string{"One attempt: `maxAttempts` is 1, so no retries."}
	}
	out := []string{fmt.Sprintf("Up to %d attempts, the first included (%d %s).", c.MaxAttempts, c.MaxAttempts-1, plural(c.MaxAttempts-1, "retry", "retries"))}
	switch c.Jitter {
	case retry.DecorrelatedJitter:
		out = append(out, fmt.Sprintf("Each delay is drawn between %s and three times the previous one, at most %s (decorrelated jitter).", dur(c.InitialDelay), dur(c.MaxDelay)))
	case retry.NoJitter:
		out = append(out, fmt.Sprintf("The first retry waits %s, each next one %s times longer, at most %s (no jitter).", dur(c.InitialDelay), num(c.Multiplier), dur(c.MaxDelay)))
	default:
		out = append(out, fmt.Sprintf("The first retry waits up to %s, each next one up to %s times longer, at most %s (full jitter: each delay is drawn at random up to its bound).", dur(c.InitialDelay), num(c.Multiplier), dur(c.MaxDelay)))
	}
	if c.MaxTotal > 0 {
		out = append(out, fmt.Sprintf("A whole call, attempts and delays together, takes at most %s.", dur(c.MaxTotal)))
	}
	out = append(out, "A rejection by the guard's own breaker, bulkhead or rate limit is never retried, nor a call its caller cancelled.")
	if b := p.Budget; b != nil {
		ratio, minPerSec, window := b.Ratio, b.MinRetriesPerSec, time.Duration(b.Window)
		if ratio == 0 {
			ratio = retry.DefaultBudgetRatio
		}
		if minPerSec == 0 {
			minPerSec = retry.DefaultMinRetriesPerSec
		}
		if window == 0 {
			window = retry.DefaultBudgetWindow
		}
		var parts []string
		if ratio > 0 {
			parts = append(parts, fmt.Sprintf("at most %s of the calls of the last %s", pct(ratio*100), dur(window)))
		}
		if minPerSec > 0 {
			parts = append(parts, fmt.Sprintf("%d a second whatever the traffic", minPerSec))
		}
		if len(parts) == 0 {
			out = append(out, "The retry budget allows no retries at all.")
		} else {
			out = append(out, "A retry budget bounds retries to "+strings.Join(parts, ", plus ")+"; past it, a failed call is not retried.")
		}
	} else {
		out = append(out, "There is no retry budget.")
	}
	return out
}

func limitRules(bh *core.BulkheadPolicy, rl *core.RateLimitPolicy) []string {
	var out []string
	if bh == nil {
		out = append(out, "No bulkhead: concurrent calls are not limited.")
	} else {
		s := fmt.Sprintf("At most %d %s run at once. ", bh.MaxConcurrent, plural(bh.MaxConcurrent, "call", "calls"))
		switch {
		case bh.MaxQueue > 0 && bh.MaxWait > 0:
			s += fmt.Sprintf("Up to %d more wait for a slot, each for at most %s; past that a call is rejected at once.", bh.MaxQueue, dur(time.Duration(bh.MaxWait)))
		case bh.MaxQueue > 0:
			s += fmt.Sprintf("Up to %d more wait for a slot, as long as their context allows; past that a call is rejected at once.", bh.MaxQueue)
		default:
			s += "A call that finds no free slot is rejected at once (no queue)."
		}
		out = append(out, s)
	}
	if rl == nil {
		out = append(out, "No rate limit.")
		return out
	}
	cfg, err := rl.RateLimitConfig()
	if err == nil {
		cfg.Precise = true // no shared clock for a limiter only read here
		var l ratelimit.Limiter
		if l, err = ratelimit.New(cfg); err == nil {
			cfg = l.Config()
		}
	}
	if err != nil {
		return append(out, "The rate-limit section is invalid: "+err.Error()+".")
	}
	s := fmt.Sprintf("At most %s %s per %s (%s), every attempt counted", num(cfg.Limit), plural(int(cfg.Limit), "call", "calls"), dur(cfg.Per), strings.ReplaceAll(cfg.Algorithm.String(), "_", " "))
	if cfg.Algorithm != ratelimit.AlgorithmSlidingWindow {
		s += fmt.Sprintf(", in bursts of up to %d", cfg.Burst)
	}
	out = append(out, s+"; a call over the limit is rejected with the time to wait.")
	return out
}

func timeoutRules(p core.Policy) []string {
	var out []string
	if p.Timeout > 0 {
		out = append(out, fmt.Sprintf("Each attempt times out after %s.", dur(time.Duration(p.Timeout))))
	} else {
		out = append(out, "Attempts have no timeout of their own (the caller's deadline applies).")
	}
	if p.TotalTimeout > 0 {
		out = append(out, fmt.Sprintf("A whole call, attempts and retry delays together, times out after %s.", dur(time.Duration(p.TotalTimeout))))
	}
	if len(p.Fallbacks) == 0 {
		return append(out, "No fallback: a failed call returns its error.")
	}
	fs := make([]string, len(p.Fallbacks))
	for i, f := range p.Fallbacks {
		on := "any failure"
		if len(f.On) > 0 {
			on = strings.Join(f.On, ", ")
		}
		fs[i] = fmt.Sprintf("`%s` (on %s)", f.Name, on)
	}
	return append(out, "When a call fails, its fallbacks are tried in order until one succeeds: "+strings.Join(fs, ", then ")+".")
}

// diagram returns the lines of a Mermaid state diagram of the breaker.
func diagram(c breaker.Config, mode string) []string {
	out := []string{"stateDiagram-v2", `    state "half-open" as HalfOpen`}
	switch mode {
	case "disabled":
		out = append(out, "    [*] --> Disabled", "    Disabled --> Closed: an operator releases it")
	case "forced-open":
		out = append(out, `    state "forced open" as ForcedOpen`, "    [*] --> ForcedOpen", "    ForcedOpen --> Closed: an operator releases it")
	case "metrics-only":
		out = append(out, `    state "metrics-only" as MetricsOnly`, "    [*] --> MetricsOnly", "    MetricsOnly --> Closed: an operator releases it")
	default:
		out = append(out, "    [*] --> Closed")
	}
	window := fmt.Sprintf("the last %d calls", c.WindowSize)
	if c.Window == breaker.TimeWindow {
		window = "the calls of the last " + dur(c.WindowDuration)
	}
	if c.FailureRate > 0 {
		out = append(out, fmt.Sprintf("    Closed --> Open: %s of %s failed (%d calls at least)", pct(c.FailureRate), window, c.MinCalls))
	}
	if c.SlowCallDuration > 0 {
		out = append(out, fmt.Sprintf("    Closed --> Open: %s of %s took %s or longer", pct(c.SlowCallRate), window, dur(c.SlowCallDuration)))
	}
	if c.ConsecutiveFailures > 0 {
		out = append(out, fmt.Sprintf("    Closed --> Open: %d failures in a row", c.ConsecutiveFailures))
	}
	wait := "after " + dur(c.OpenDuration)
	if c.OpenBackoff != 1 {
		wait += fmt.Sprintf(", x%s per failed probe up to %s", num(c.OpenBackoff), dur(c.MaxOpenDuration))
	}
	if len(c.RampSteps) > 0 {
		out[1] = `    state "ramping" as Ramp`
		out = append(out,
			"    Open --> Ramp: "+wait,
			fmt.Sprintf("    Ramp --> Closed: %d steps passed", len(c.RampSteps)),
			fmt.Sprintf("    Ramp --> Open: a step's failure rate reached %s", pct(rampRate(c))))
		return out
	}
	out = append(out,
		"    Open --> HalfOpen: "+wait,
		fmt.Sprintf("    HalfOpen --> Closed: %d %s succeeded", c.SuccessThreshold, plural(c.SuccessThreshold, "probe", "probes")),
		"    HalfOpen --> Open: a probe failed or timed out")
	return out
}

func describeTenants(d *describer, t *core.TenantPolicy) {
	if t == nil {
		return
	}
	d.add(blockH2, "Tenants")
	bound := "1000 (the default)"
	if t.MaxGuards > 0 {
		bound = strconv.Itoa(t.MaxGuards)
	}
	d.para("A guard called for a tenant with an overlay gets a guard of its own, built from its policy with the overlay applied. At most %s tenant guards exist at once; past that, a call for a new tenant uses the guard without an overlay (and is counted).", bound)
	if len(t.Overrides) == 0 {
		d.para("No tenant has an overlay.")
		return
	}
	var items []string
	for _, o := range t.Overrides {
		who := "Tenant `" + o.Tenant + "`"
		if o.Tenant == "*" {
			who = "Every tenant without an overlay of its own (`*`)"
		}
		for _, p := range o.Policies {
			items = append(items, fmt.Sprintf("%s, policy `%s`: %s.", who, p.Name, fieldsOf(p)))
		}
		if len(o.Policies) == 0 {
			items = append(items, who+": no policy changed.")
		}
	}
	d.list(items...)
}

func describeVariants(d *describer, vs []core.VariantPolicy) {
	if len(vs) == 0 {
		return
	}
	d.add(blockH2, "Variants")
	d.para("A variant changes a policy for a segment of calls, to compare it with the policy as it is (the control).")
	var items []string
	for _, v := range vs {
		var seg []string
		if v.Percent > 0 {
			seg = append(seg, pct(v.Percent)+" of segment keys (by a stable hash of the key)")
		}
		if v.Attribute != "" {
			seg = append(seg, "the calls whose context carries the attribute `"+v.Attribute+"`")
		}
		how := "enforced"
		if v.Shadow {
			how = "shadow: its verdicts are recorded, never enforced"
		}
		items = append(items, fmt.Sprintf("`%s` varies `%s` for %s (%s). It differs in %s.", v.Name, v.Policy, strings.Join(seg, " and "), how, fieldsOf(v.Override)))
	}
	d.list(items...)
}

// fieldsOf lists the fields p sets, but its name, as "path value" pairs in
// the order of their JSON paths.
func fieldsOf(p core.Policy) string {
	p.Name = ""
	b, err := json.Marshal(p)
	if err != nil {
		return "(unprintable)"
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "(unprintable)"
	}
	var out []string
	flatten("", m, &out)
	if len(out) == 0 {
		return "nothing"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func flatten(path string, v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "name" && path == "" {
				continue
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			flatten(p, x, out)
		}
	default:
		b, _ := json.Marshal(v)
		*out = append(*out, "`"+path+"` "+strings.Trim(string(b), `"`))
	}
}

// dur formats a duration as time.Duration does, without zero units at
// the end: 5m rather than 5m0s.
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
func pct(f float64) string { return num(f) + "%" }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func codeList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

func renderMarkdown(bs []block) []byte {
	var b bytes.Buffer
	for i, bl := range bs {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch bl.kind {
		case blockH1:
			b.WriteString("# " + bl.text + "\n")
		case blockH2:
			b.WriteString("## " + bl.text + "\n")
		case blockH3:
			b.WriteString("### " + bl.text + "\n")
		case blockPara:
			b.WriteString(bl.text + "\n")
		case blockList:
			for _, it := range bl.lines {
				b.WriteString("- " + it + "\n")
			}
		case blockMermaid:
			b.WriteString("```mermaid\n")
			for _, l := range bl.lines {
				b.WriteString(l + "\n")
			}
			b.WriteString("```\n")
		}
	}
	return b.Bytes()
}
