package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits of a scenario file. A file past one of them is refused.
const (
	// MaxBytes is the largest scenario file read (1 MiB).
	MaxBytes = 1 << 20
	// MaxDuration is the longest simulated time (24h).
	MaxDuration = 24 * time.Hour
	// MaxPhases is the most phases one scenario holds.
	MaxPhases = 1000
	// MaxRate is the highest traffic rate, in calls per second.
	MaxRate = 100_000
	// MaxCalls bounds the calls a scenario may make in all (the integral of
	// its traffic rate), so that a run stays within memory and seconds.
	MaxCalls = 5_000_000
	// MaxPoints is the most ticks (timeline points) of a run.
	MaxPoints = 10_000
	// MaxLatency bounds every latency of the file (a median, a p99, a
	// fixed latency, after a brown-out's factor).
	MaxLatency = time.Hour
	// MaxLatencyFactor bounds a brown-out's latency factor.
	MaxLatencyFactor = 1000
	// Resolution is the simulation's clock step: every arrival, latency and
	// delay is a whole number of milliseconds, and durations of the file
	// (tick, phase bounds) must be too.
	Resolution = time.Millisecond
)

// Scenario is a parsed scenario file: the traffic one guard sees over a
// span of simulated time. Between phases, and where a phase leaves a
// value unset, the baseline (Traffic, FailureRate, Latency) applies.
type Scenario struct {
	// File is the name the scenario was parsed under, for messages.
	File string `json:"file,omitempty"`
	// Guard is the name of the simulated guard: its policy is the one the
	// policy document selects for that name. Default "sim".
	Guard string `json:"guard"`
	// Duration is the simulated time, at most MaxDuration.
	Duration time.Duration `json:"duration"`
	// Seed seeds every random draw (arrivals, failures, latencies,
	// jitter). Default 1.
	Seed uint64 `json:"seed"`
	// Tick is the timeline's resolution: one point per tick. Default: the
	// shortest of 1s, 5s, 10s, 30s, 1m, 5m, 10m, 30m giving at most 600
	// points.
	Tick time.Duration `json:"tick"`
	// Traffic is the baseline arrival rate, in calls per second.
	Traffic Ramp `json:"traffic"`
	// Arrivals is how calls arrive: Poisson (the default: independent
	// arrivals, exponential gaps) or Uniform (evenly spaced at the rate in
	// force, for scenarios whose counts must be exact).
	Arrivals Arrivals `json:"arrivals"`
	// FailureRate is the baseline share of attempts that fail, in [0, 1].
	FailureRate Ramp `json:"failureRate"`
	// Latency is the baseline latency of an attempt.
	Latency Latency `json:"latency"`
	// Phases change the baseline over [From, To), in time order, without
	// overlapping.
	Phases []Phase `json:"phases,omitempty"`
}

// Ramp is a value that goes linearly from From to To over its span (the
// whole scenario for a baseline, the phase for a phase); From == To is a
// constant.
type Ramp struct {
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// At returns the ramp's value at the fraction f of its span.
func (r Ramp) At(f float64) float64 { return r.From + (r.To-r.From)*f }

// Latency is the distribution of an attempt's latency: Fixed when P99 is
// zero, else lognormal with median Median and 99th percentile P99.
type Latency struct {
	Median time.Duration `json:"median"`
	P99    time.Duration `json:"p99,omitempty"`
}

// Arrivals names an arrival process.
type Arrivals string

// Arrival processes.
const (
	Poisson Arrivals = "poisson"
	Uniform Arrivals = "uniform"
)

// Event names what a phase stands for.
type Event string

// Events a phase may name.
const (
	// Outage: every attempt fails (failure rate 1).
	Outage Event = "outage"
	// BrownOut: latencies are multiplied by LatencyFactor and the failure
	// rate is the phase's (or the baseline's).
	BrownOut Event = "brownout"
)

// Phase changes the traffic over [From, To). Unset fields (nil) keep the
// baseline.
type Phase struct {
	Name string        `json:"name,omitempty"`
	From time.Duration `json:"from"`
	To   time.Duration `json:"to"`
	// Event is "", Outage or BrownOut.
	Event         Event    `json:"event,omitempty"`
	Traffic       *Ramp    `json:"traffic,omitempty"`
	FailureRate   *Ramp    `json:"failureRate,omitempty"`
	Latency       *Latency `json:"latency,omitempty"`
	LatencyFactor float64  `json:"latencyFactor,omitempty"`
}

// Problem is one thing wrong with a scenario file, where it is written.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	// Field is the path of the field ("phases[2].traffic.from"), empty for
	// the document itself.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String returns file:line:column: field: message (file:line: for a
// syntax error, whose column the YAML parser does not give).
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 { // the YAML parser names lines only
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is a refused scenario file: every problem found.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "scenario: " + strings.Join(msgs, "; ")
}

// Parse reads one scenario document, YAML or JSON (JSON is read as the
// YAML it also is), and returns it, or an *Error naming the line, column
// and field of every problem: a file over MaxBytes, invalid syntax, more
// than one document, aliases, unknown or duplicate keys, values of the
// wrong type, negative, NaN or infinite numbers, rates above 1, phases out
// of order, overlapping or past the end, and limits (MaxDuration,
// MaxPhases, MaxRate, MaxCalls, MaxPoints, MaxLatency) exceeded. name is
// the file's name, used in the problems.
func Parse(name string, data []byte) (*Scenario, error) {
	p := &parser{file: name}
	if len(data) > MaxBytes {
		p.add(nil, "", fmt.Sprintf("the file is %d bytes, more than the %d a scenario may have", len(data), MaxBytes))
		return nil, p.err()
	}
	root := p.document(data)
	if root == nil {
		return nil, p.err()
	}
	sc := p.scenario(root)
	if len(p.probs) > 0 {
		return nil, p.err()
	}
	sc.File = name
	return sc, nil
}

type parser struct {
	file  string
	probs []Problem
}

func (p *parser) add(n *yaml.Node, field, msg string) {
	pr := Problem{File: p.file, Field: field, Message: msg}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.probs = append(p.probs, pr)
}

func (p *parser) err() error {
	if len(p.probs) == 0 {
		return nil
	}
	return &Error{Problems: p.probs}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as one YAML document and returns its root mapping.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, "", "the file is empty")
			return nil
		}
		pr := Problem{File: p.file, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			pr.Line, _ = strconv.Atoi(m[1])
			pr.Message = "invalid YAML: " + m[2]
		}
		p.probs = append(p.probs, pr)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			p.add(nil, "", "invalid YAML after the first document: "+strings.TrimPrefix(err.Error(), "yaml: "))
		} else {
			p.add(&extra, "", "more than one YAML document (---); a scenario file holds one")
		}
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.add(root, "", "the file is empty")
			return nil
		}
		root = root.Content[0]
	}
	if !p.noAliases(root, 0) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.add(root, "", "a scenario is a mapping (duration, traffic, phases, ...)")
		return nil
	}
	return root
}

// noAliases refuses anchors, aliases and merge keys anywhere: a scenario is
// small and plain, and aliases are how hostile YAML grows.
func (p *parser) noAliases(n *yaml.Node, depth int) bool {
	if depth > 20 {
		p.add(n, "", "nested deeper than a scenario ever is (20 levels)")
		return false
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" || n.Tag == "!!merge" {
		p.add(n, "", "YAML anchors, aliases and merge keys are not allowed in a scenario")
		return false
	}
	for _, c := range n.Content {
		if !p.noAliases(c, depth+1) {
			return false
		}
	}
	return true
}

// fields checks a mapping's keys against allowed and returns the value of
// each key present. Unknown and duplicate keys are problems.
func (p *parser) fields(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "must be a mapping")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, path, "keys must be plain names")
			continue
		}
		kp := join(path, k.Value)
		known := false
		for _, a := range allowed {
			known = known || a == k.Value
		}
		switch {
		case !known:
			p.add(k, kp, fmt.Sprintf("unknown key %q (known: %s)", k.Value, strings.Join(allowed, ", ")))
		case out[k.Value] != nil:
			p.add(k, kp, "duplicate key")
		default:
			out[k.Value] = v
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) scenario(root *yaml.Node) *Scenario {
	f := p.fields(root, "", "guard", "duration", "seed", "tick", "traffic", "arrivals", "failureRate", "latency", "phases")
	sc := &Scenario{Guard: "sim", Seed: 1, Arrivals: Poisson, Latency: Latency{Median: 10 * time.Millisecond}}
	if n := f["arrivals"]; n != nil {
		switch a := Arrivals(p.str(n, "arrivals")); a {
		case Poisson, Uniform:
			sc.Arrivals = a
		default:
			p.add(n, "arrivals", fmt.Sprintf("%q must be poisson or uniform", n.Value))
		}
	}
	if n := f["guard"]; n != nil {
		sc.Guard = p.str(n, "guard")
		if sc.Guard == "" || len(sc.Guard) > 256 || strings.ContainsAny(sc.Guard, "\x00\n\r") {
			p.add(n, "guard", fmt.Sprintf("%q must be a guard name (1 to 256 characters, one line)", sc.Guard))
		}
	}
	if n := f["duration"]; n != nil {
		sc.Duration = p.duration(n, "duration")
		if sc.Duration == 0 {
			p.add(n, "duration", "must be more than 0")
		} else if sc.Duration > MaxDuration {
			p.add(n, "duration", fmt.Sprintf("%v is more than the %v a simulation may cover", sc.Duration, MaxDuration))
		}
	} else {
		p.add(root, "duration", "missing: how much time to simulate, such as 10m")
	}
	if n := f["seed"]; n != nil {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			p.add(n, "seed", fmt.Sprintf("%q must be a whole number", n.Value))
		} else if v, err := strconv.ParseUint(n.Value, 0, 64); err != nil {
			p.add(n, "seed", fmt.Sprintf("%q must be a whole number from 0 to 2^64-1", n.Value))
		} else {
			sc.Seed = v
		}
	}
	if n := f["traffic"]; n != nil {
		sc.Traffic = p.ramp(n, "traffic", p.trafficValue)
	} else {
		p.add(root, "traffic", "missing: the baseline rate in calls per second, such as 50")
	}
	if n := f["failureRate"]; n != nil {
		sc.FailureRate = p.ramp(n, "failureRate", p.rateValue)
	}
	if n := f["latency"]; n != nil {
		sc.Latency = p.latency(n, "latency")
	}
	if n := f["phases"]; n != nil {
		sc.Phases = p.phases(n, sc.Duration, sc.Latency)
	}
	tickNode := f["tick"]
	if tickNode != nil {
		sc.Tick = p.duration(tickNode, "tick")
		if sc.Tick == 0 {
			p.add(tickNode, "tick", "must be more than 0")
		}
	}
	if len(p.probs) > 0 {
		return sc
	}
	if sc.Tick == 0 {
		sc.Tick = defaultTick(sc.Duration)
	}
	if pts := sc.Duration / sc.Tick; pts > MaxPoints {
		p.add(tickNode, "tick", fmt.Sprintf("%v gives %d points over %v, more than %d", sc.Tick, pts, sc.Duration, MaxPoints))
	} else if sc.Tick > sc.Duration {
		p.add(tickNode, "tick", fmt.Sprintf("%v is longer than the duration %v", sc.Tick, sc.Duration))
	}
	if calls := sc.ExpectedCalls(); calls > MaxCalls {
		p.add(root, "traffic", fmt.Sprintf("the scenario makes about %.0f calls, more than the %d a simulation may make: shorten it or lower the rate", calls, MaxCalls))
	}
	return sc
}

// defaultTick is the shortest round tick giving at most 600 points.
func defaultTick(d time.Duration) time.Duration {
	for _, t := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute} {
		if d/t <= 600 {
			return t
		}
	}
	return time.Hour
}

func (p *parser) phases(n *yaml.Node, total time.Duration, base Latency) []Phase {
	if n.Kind != yaml.SequenceNode {
		p.add(n, "phases", "must be a list of phases")
		return nil
	}
	if len(n.Content) > MaxPhases {
		p.add(n, "phases", fmt.Sprintf("%d phases, more than %d", len(n.Content), MaxPhases))
		return nil
	}
	out := make([]Phase, 0, len(n.Content))
	var prevEnd time.Duration
	prevName := ""
	for i, pn := range n.Content {
		path := fmt.Sprintf("phases[%d]", i)
		before := len(p.probs)
		f := p.fields(pn, path, "name", "from", "to", "event", "traffic", "failureRate", "latency", "latencyFactor")
		ph := Phase{}
		if v := f["name"]; v != nil {
			ph.Name = p.str(v, path+".name")
			if len(ph.Name) > 256 || strings.ContainsAny(ph.Name, "\x00\n\r") {
				p.add(v, path+".name", "must be one line of at most 256 characters")
			}
		}
		for _, k := range []string{"from", "to"} {
			v := f[k]
			if v == nil {
				p.add(pn, path+"."+k, "missing: when the phase "+map[string]string{"from": "starts", "to": "ends"}[k]+", such as 2m")
				continue
			}
			d := p.duration(v, path+"."+k)
			if k == "from" {
				ph.From = d
			} else {
				ph.To = d
			}
		}
		if v := f["event"]; v != nil {
			switch e := Event(p.str(v, path+".event")); e {
			case Outage, BrownOut:
				ph.Event = e
			default:
				p.add(v, path+".event", fmt.Sprintf("%q must be outage or brownout", v.Value))
			}
		}
		if v := f["traffic"]; v != nil {
			r := p.ramp(v, path+".traffic", p.trafficValue)
			ph.Traffic = &r
		}
		if v := f["failureRate"]; v != nil {
			if ph.Event == Outage {
				p.add(v, path+".failureRate", "an outage fails every call (failure rate 1); remove failureRate or make the event a brownout")
			}
			r := p.ramp(v, path+".failureRate", p.rateValue)
			ph.FailureRate = &r
		}
		if v := f["latency"]; v != nil {
			l := p.latency(v, path+".latency")
			ph.Latency = &l
		}
		if v := f["latencyFactor"]; v != nil {
			if ph.Event != BrownOut {
				p.add(v, path+".latencyFactor", "only a brownout event multiplies latencies")
			}
			ph.LatencyFactor = p.number(v, path+".latencyFactor")
			if ph.LatencyFactor < 1 || ph.LatencyFactor > MaxLatencyFactor {
				p.add(v, path+".latencyFactor", fmt.Sprintf("%v must be from 1 to %d", ph.LatencyFactor, MaxLatencyFactor))
			}
		} else if ph.Event == BrownOut {
			p.add(pn, path+".latencyFactor", "missing: a brownout multiplies latencies by latencyFactor, such as 4")
		}
		if ph.Event == Outage {
			ph.FailureRate = &Ramp{From: 1, To: 1}
		}
		if len(p.probs) == before {
			label := path
			if ph.Name != "" {
				label = fmt.Sprintf("%s (%q)", path, ph.Name)
			}
			switch {
			case ph.To <= ph.From:
				p.add(f["to"], path+".to", fmt.Sprintf("%v must be after from (%v)", ph.To, ph.From))
			case total > 0 && ph.To > total:
				p.add(f["to"], path+".to", fmt.Sprintf("%v is past the end of the scenario (duration %v)", ph.To, total))
			case i > 0 && ph.From < prevEnd:
				p.add(f["from"], path+".from", fmt.Sprintf("%v starts before the phase before it (%s) ends at %v: phases must be in time order and must not overlap", ph.From, prevName, prevEnd))
			}
			if ph.LatencyFactor > 0 {
				l := base
				if ph.Latency != nil {
					l = *ph.Latency
				}
				if m := max(l.Median, l.P99); float64(m)*ph.LatencyFactor > float64(MaxLatency) {
					p.add(f["latencyFactor"], path+".latencyFactor", fmt.Sprintf("makes latencies of %v, more than %v", time.Duration(float64(m)*ph.LatencyFactor), MaxLatency))
				}
			}
			prevEnd, prevName = ph.To, label
		}
		out = append(out, ph)
	}
	return out
}

// ramp reads a number or a mapping {from, to}, each checked by value.
func (p *parser) ramp(n *yaml.Node, path string, value func(*yaml.Node, string) float64) Ramp {
	if n.Kind == yaml.MappingNode {
		f := p.fields(n, path, "from", "to")
		var r Ramp
		for _, k := range []string{"from", "to"} {
			if v := f[k]; v != nil {
				x := value(v, path+"."+k)
				if k == "from" {
					r.From = x
				} else {
					r.To = x
				}
			} else {
				p.add(n, path+"."+k, "missing: a ramp goes from one value to another")
			}
		}
		return r
	}
	x := value(n, path)
	return Ramp{From: x, To: x}
}

func (p *parser) trafficValue(n *yaml.Node, path string) float64 {
	x := p.number(n, path)
	if x > MaxRate {
		p.add(n, path, fmt.Sprintf("%v calls per second is more than %d", x, MaxRate))
	}
	return x
}

func (p *parser) rateValue(n *yaml.Node, path string) float64 {
	x := p.number(n, path)
	if x > 1 {
		p.add(n, path, fmt.Sprintf("%v is a share of calls, from 0 to 1 (0.25 for 25%%)", x))
	}
	return x
}

// number reads a finite, non-negative number.
func (p *parser) number(n *yaml.Node, path string) float64 {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		p.add(n, path, fmt.Sprintf("%q must be a number", n.Value))
		return 0
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil && n.Tag == "!!float" {
		switch strings.ToLower(n.Value) {
		case ".nan", ".inf", "+.inf", "-.inf":
			err, x = nil, math.NaN()
		}
	}
	switch {
	case err != nil:
		p.add(n, path, fmt.Sprintf("%q must be a number", n.Value))
		return 0
	case math.IsNaN(x) || math.IsInf(x, 0):
		p.add(n, path, fmt.Sprintf("%s must be a finite number", n.Value))
		return 0
	case x < 0:
		p.add(n, path, fmt.Sprintf("%s must not be negative", n.Value))
		return 0
	}
	return x
}

// duration reads a non-negative duration string such as "90s", a whole
// number of milliseconds.
func (p *parser) duration(n *yaml.Node, path string) time.Duration {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.add(n, path, fmt.Sprintf("%q must be a duration such as 90s or 5m", n.Value))
		return 0
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		p.add(n, path, fmt.Sprintf("%q must be a duration such as 90s or 5m", n.Value))
		return 0
	case d < 0:
		p.add(n, path, fmt.Sprintf("%s must not be negative", n.Value))
		return 0
	case d%Resolution != 0:
		p.add(n, path, fmt.Sprintf("%s must be a whole number of milliseconds (the simulation's clock step)", n.Value))
		return 0
	}
	return d
}

func (p *parser) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.add(n, path, fmt.Sprintf("%q must be a string", n.Value))
		return ""
	}
	return n.Value
}

// latency reads {fixed: D} or {median: D, p99: D}.
func (p *parser) latency(n *yaml.Node, path string) Latency {
	f := p.fields(n, path, "fixed", "median", "p99")
	var l Latency
	before := len(p.probs)
	fixed, med, p99 := f["fixed"], f["median"], f["p99"]
	switch {
	case fixed != nil && (med != nil || p99 != nil):
		p.add(fixed, path+".fixed", "give either fixed or median and p99, not both")
	case fixed != nil:
		l.Median = p.duration(fixed, path+".fixed")
	case med != nil && p99 != nil:
		l.Median, l.P99 = p.duration(med, path+".median"), p.duration(p99, path+".p99")
		if len(p.probs) == before && l.P99 < l.Median {
			p.add(p99, path+".p99", fmt.Sprintf("%v must be at least the median (%v)", l.P99, l.Median))
		}
		if len(p.probs) == before && l.Median == 0 {
			p.add(med, path+".median", "a lognormal latency needs a median above 0")
		}
	case n.Kind == yaml.MappingNode && len(p.probs) == before:
		p.add(n, path, "give fixed (such as 20ms), or median and p99 (a lognormal distribution)")
	}
	if max(l.Median, l.P99) > MaxLatency {
		p.add(n, path, fmt.Sprintf("%v is more than %v", max(l.Median, l.P99), MaxLatency))
	}
	return l
}

// ExpectedCalls is the number of calls the scenario's traffic makes on
// average: the integral of its rate over its duration.
func (sc *Scenario) ExpectedCalls() float64 {
	var calls float64
	var at time.Duration
	base := func(from, to time.Duration) float64 { // baseline over [from, to)
		if to <= from || sc.Duration <= 0 {
			return 0
		}
		a := sc.Traffic.At(float64(from) / float64(sc.Duration))
		b := sc.Traffic.At(float64(to) / float64(sc.Duration))
		return (a + b) / 2 * (to - from).Seconds()
	}
	for _, ph := range sc.Phases {
		calls += base(at, ph.From)
		if ph.Traffic != nil {
			calls += (ph.Traffic.From + ph.Traffic.To) / 2 * (ph.To - ph.From).Seconds()
		} else {
			calls += base(ph.From, ph.To)
		}
		at = ph.To
	}
	return calls + base(at, sc.Duration)
}

// Conditions are the traffic at one moment of a scenario.
type Conditions struct {
	// Traffic is the arrival rate, in calls per second.
	Traffic float64
	// FailureRate is the share of attempts that fail.
	FailureRate float64
	// Latency is the attempt latency distribution, a brown-out's factor
	// applied.
	Latency Latency
	// Phase is the index of the phase in force, -1 for the baseline.
	Phase int
}

// At returns the conditions at the offset d from the scenario's start.
func (sc *Scenario) At(d time.Duration) Conditions {
	f := 0.0
	if sc.Duration > 0 {
		f = float64(d) / float64(sc.Duration)
	}
	c := Conditions{Traffic: sc.Traffic.At(f), FailureRate: sc.FailureRate.At(f), Latency: sc.Latency, Phase: -1}
	i := sc.phaseAt(d)
	if i < 0 {
		return c
	}
	ph := &sc.Phases[i]
	c.Phase = i
	pf := float64(d-ph.From) / float64(ph.To-ph.From)
	if ph.Traffic != nil {
		c.Traffic = ph.Traffic.At(pf)
	}
	if ph.FailureRate != nil {
		c.FailureRate = ph.FailureRate.At(pf)
	}
	if ph.Latency != nil {
		c.Latency = *ph.Latency
	}
	if ph.LatencyFactor > 0 {
		c.Latency.Median = time.Duration(float64(c.Latency.Median) * ph.LatencyFactor)
		c.Latency.P99 = time.Duration(float64(c.Latency.P99) * ph.LatencyFactor)
	}
	return c
}

// phaseAt returns the index of the phase holding d, or -1.
func (sc *Scenario) phaseAt(d time.Duration) int {
	lo, hi := 0, len(sc.Phases)
	for lo < hi {
		m := (lo + hi) / 2
		if sc.Phases[m].To <= d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(sc.Phases) && sc.Phases[lo].From <= d {
		return lo
	}
	return -1
}
