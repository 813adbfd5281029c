package scenario

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func TestParseExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/scenarios/outage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Parse("outage.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Guard != "payments" || sc.Duration != 10*time.Minute || sc.Seed != 42 || sc.Tick != 5*time.Second || len(sc.Phases) != 3 {
		t.Fatalf("parsed %+v", sc)
	}
	if c := sc.At(30 * time.Second); c.Traffic != 25 || c.Phase != 0 {
		t.Errorf("at 30s (half-way up the ramp): %+v, want 25 calls/s in phase 0", c)
	}
	if c := sc.At(3 * time.Minute); c.FailureRate != 1 || c.Traffic != 40 {
		t.Errorf("in the outage: %+v, want failure rate 1 at the baseline 40/s", c)
	}
	if c := sc.At(7 * time.Minute); c.Latency.Median != 200*time.Millisecond || c.Latency.P99 != 1250*time.Millisecond || c.FailureRate != 0.15 {
		t.Errorf("in the brown-out: %+v, want latency ×5 and 15%% failures", c)
	}
	if c := sc.At(5 * time.Minute); c.Phase != -1 || c.FailureRate != 0.01 {
		t.Errorf("between phases: %+v, want the baseline", c)
	}
	if n := sc.ExpectedCalls(); n != 60*25+9*60*40 {
		t.Errorf("ExpectedCalls = %v, want %v", n, 60*25+9*60*40)
	}
}

func TestParseJSON(t *testing.T) {
	sc, err := Parse("s.json", []byte(`{"duration": "1m", "traffic": {"from": 1, "to": 3}, "latency": {"fixed": "5ms"},
  "phases": [{"from": "10s", "to": "20s", "event": "outage"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Guard != "sim" || sc.Tick != time.Second || sc.Latency.Median != 5*time.Millisecond || sc.Traffic.At(0.5) != 2 {
		t.Fatalf("parsed %+v", sc)
	}
}

// TestParseRefuses: every kind of bad scenario is refused with the line,
// column and field of the problem.
func TestParseRefuses(t *testing.T) {
	ok := "duration: 10m\ntraffic: 10\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "", "s.yaml: the file is empty"},
		{"syntax", "duration: 10m\ntraffic: [1,\n", "s.yaml:2: invalid YAML"},
		{"not a mapping", "- 1\n- 2\n", "s.yaml:1:1: a scenario is a mapping"},
		{"two documents", ok + "---\nduration: 1m\n", "more than one YAML document"},
		{"unknown key", ok + "trafic: 3\n", `s.yaml:3:1: trafic: unknown key "trafic"`},
		{"duplicate key", ok + "traffic: 3\n", "s.yaml:3:1: traffic: duplicate key"},
		{"missing duration", "traffic: 10\n", "s.yaml:1:1: duration: missing"},
		{"missing traffic", "duration: 10m\n", "s.yaml:1:1: traffic: missing"},
		{"negative traffic", "duration: 10m\ntraffic: -5\n", "s.yaml:2:10: traffic: -5 must not be negative"},
		{"NaN", ok + "failureRate: .nan\n", "s.yaml:3:14: failureRate: .nan must be a finite number"},
		{"infinite", "duration: 10m\ntraffic: .inf\n", "s.yaml:2:10: traffic: .inf must be a finite number"},
		{"rate above 1", ok + "failureRate: 25\n", "s.yaml:3:14: failureRate: 25 is a share of calls, from 0 to 1"},
		{"ramp above 1", ok + "failureRate: {from: 0, to: 1.5}\n", "s.yaml:3:28: failureRate.to: 1.5 is a share"},
		{"string number", "duration: 10m\ntraffic: \"10\"\n", `s.yaml:2:10: traffic: "10" must be a number`},
		{"bad duration", "duration: 10 minutes\ntraffic: 1\n", `s.yaml:1:11: duration: "10 minutes" must be a duration`},
		{"number duration", "duration: 600\ntraffic: 1\n", `s.yaml:1:11: duration: "600" must be a duration`},
		{"negative duration", "duration: -1m\ntraffic: 1\n", "s.yaml:1:11: duration: -1m must not be negative"},
		{"sub-millisecond", "duration: 10m\ntick: 1500us\ntraffic: 1\n", "s.yaml:2:7: tick: 1500us must be a whole number of milliseconds"},
		{"too long", "duration: 25h\ntraffic: 1\n", "s.yaml:1:11: duration: 25h0m0s is more than the 24h0m0s"},
		{"too many points", "duration: 24h\ntick: 1s\ntraffic: 1\n", "s.yaml:2:7: tick: 1s gives 86400 points"},
		{"too many calls", "duration: 24h\ntraffic: 1000\n", "s.yaml:1:1: traffic: the scenario makes about 86400000 calls"},
		{"rate cap", "duration: 1s\ntraffic: 1e9\n", "s.yaml:2:10: traffic: 1e+09 calls per second is more than 100000"},
		{"seed", ok + "seed: -1\n", `s.yaml:3:7: seed: "-1" must be a whole number`},
		{"arrivals", ok + "arrivals: bursty\n", `s.yaml:3:11: arrivals: "bursty" must be poisson or uniform`},
		{"latency both", ok + "latency: {fixed: 5ms, median: 5ms}\n", "s.yaml:3:18: latency.fixed: give either fixed or median and p99"},
		{"latency p99 below median", ok + "latency: {median: 50ms, p99: 10ms}\n", "s.yaml:3:30: latency.p99: 10ms must be at least the median (50ms)"},
		{"latency empty", ok + "latency: {}\n", "s.yaml:3:10: latency: give fixed"},
		{"latency cap", ok + "latency: {fixed: 2h}\n", "s.yaml:3:10: latency: 2h0m0s is more than 1h0m0s"},
		{"phases not a list", ok + "phases: {from: 1m}\n", "s.yaml:3:9: phases: must be a list"},
		{"phase unknown key", ok + "phases:\n  - {from: 1m, to: 2m, evnt: outage}\n", `s.yaml:4:24: phases[0].evnt: unknown key "evnt"`},
		{"phase missing to", ok + "phases:\n  - from: 1m\n", "s.yaml:4:5: phases[0].to: missing"},
		{"phase backwards", ok + "phases:\n  - {from: 2m, to: 1m}\n", "s.yaml:4:20: phases[0].to: 1m0s must be after from (2m0s)"},
		{"phase past the end", ok + "phases:\n  - {from: 2m, to: 11m}\n", "s.yaml:4:20: phases[0].to: 11m0s is past the end"},
		{"phases overlap", ok + "phases:\n  - {name: a, from: 1m, to: 3m}\n  - {from: 2m, to: 4m}\n",
			`s.yaml:5:12: phases[1].from: 2m0s starts before the phase before it (phases[0] ("a")) ends at 3m0s`},
		{"phases out of order", ok + "phases:\n  - {from: 5m, to: 6m}\n  - {from: 1m, to: 2m}\n", "s.yaml:5:12: phases[1].from: 1m0s starts before"},
		{"unknown event", ok + "phases:\n  - {from: 1m, to: 2m, event: meteor}\n", `s.yaml:4:31: phases[0].event: "meteor" must be outage or brownout`},
		{"outage with failure rate", ok + "phases:\n  - {from: 1m, to: 2m, event: outage, failureRate: 0.5}\n", "s.yaml:4:52: phases[0].failureRate: an outage fails every call"},
		{"brownout without factor", ok + "phases:\n  - {from: 1m, to: 2m, event: brownout}\n", "s.yaml:4:5: phases[0].latencyFactor: missing"},
		{"factor without brownout", ok + "phases:\n  - {from: 1m, to: 2m, latencyFactor: 3}\n", "s.yaml:4:39: phases[0].latencyFactor: only a brownout"},
		{"factor below 1", ok + "phases:\n  - {from: 1m, to: 2m, event: brownout, latencyFactor: 0.5}\n", "phases[0].latencyFactor: 0.5 must be from 1 to 1000"},
		{"factor past the latency cap", ok + "latency: {fixed: 10s}\nphases:\n  - {from: 1m, to: 2m, event: brownout, latencyFactor: 1000}\n", "s.yaml:5:56: phases[0].latencyFactor: makes latencies of 2h46m40s"},
		{"alias", "base: &b 10\nduration: 10m\ntraffic: *b\n", "s.yaml:1:7: YAML anchors, aliases and merge keys are not allowed"},
		{"merge key", "duration: 10m\ntraffic: 1\nlatency:\n  <<: {fixed: 1ms}\n", "YAML anchors, aliases and merge keys are not allowed"},
		{"deep", ok + "phases: " + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n", "nested deeper than a scenario ever is"},
		{"guard name", ok + "guard: \"\"\n", `s.yaml:3:8: guard: "" must be a guard name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse("s.yaml", []byte(tc.doc))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %+v, %v; want an *Error", sc, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseRefusesLargeFiles(t *testing.T) {
	data := []byte("duration: 10m\ntraffic: 1\n# " + strings.Repeat("x", MaxBytes) + "\n")
	_, err := Parse("big.yaml", data)
	if err == nil || !strings.Contains(err.Error(), "more than the 1048576 a scenario may have") {
		t.Fatalf("Parse of a large file = %v", err)
	}
}

// fuzzDoc has every gate the engine reads: breaker, retries with a budget,
// bulkhead, rate limit, timeouts.
var fuzzDoc = core.Document{Policies: []core.Policy{{Name: "payments", Match: []string{"payments"},
	Timeout: core.Duration(200 * time.Millisecond), TotalTimeout: core.Duration(time.Second),
	Breaker:   &core.BreakerPolicy{ConsecutiveFailures: 3, OpenDuration: core.Duration(2 * time.Second)},
	Retry:     &core.RetryPolicy{MaxAttempts: 3, Budget: &core.RetryBudgetPolicy{Ratio: 0.3}},
	Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 5},
	RateLimit: &core.RateLimitPolicy{Limit: 20, Burst: 5}}}}

// FuzzParse: Parse never panics, what it accepts is within its limits,
// and small accepted scenarios run with counts that add up.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../../examples/scenarios/outage.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("duration: 10m\ntraffic: {from: 0, to: 100}\nphases:\n  - {from: 1m, to: 2m, event: brownout, latencyFactor: 3}\n"))
	f.Add([]byte(`{"duration":"1s","traffic":1,"arrivals":"uniform","latency":{"median":"1ms","p99":"9ms"}}`))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("f.yaml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("Parse error %v is not an *Error with problems", err)
			}
			return
		}
		if sc.Duration <= 0 || sc.Duration > MaxDuration || sc.Tick <= 0 || sc.Duration/sc.Tick > MaxPoints || sc.ExpectedCalls() > MaxCalls {
			t.Fatalf("accepted a scenario past the limits: %+v", sc)
		}
		for i := range sc.Phases {
			if ph := sc.Phases[i]; ph.To <= ph.From || ph.To > sc.Duration || (i > 0 && ph.From < sc.Phases[i-1].To) {
				t.Fatalf("accepted bad phases: %+v", sc.Phases)
			}
		}
		for _, d := range []time.Duration{0, sc.Duration / 2, sc.Duration - 1} {
			if c := sc.At(d); c.FailureRate < 0 || c.FailureRate > 1 || c.Traffic < 0 || c.Traffic > MaxRate {
				t.Fatalf("conditions at %v out of range: %+v", d, c)
			}
		}
		// Small accepted scenarios run, and their counts add up.
		if sc.ExpectedCalls() > 2000 || sc.Duration/sc.Tick > 200 {
			return
		}
		sc.Guard = "payments"
		tl, err := Run(sc, fuzzDoc)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		s := tl.Summary
		if s.Calls != s.Succeeded+s.Failed+s.Rejected+s.Unfinished || s.TimeOpen < 0 || time.Duration(s.TimeOpen) > sc.Duration {
			t.Fatalf("summary does not add up: %+v", s)
		}
		if want := int((sc.Duration + sc.Tick - 1) / sc.Tick); len(tl.Points) != want {
			t.Fatalf("%d points, want %d", len(tl.Points), want)
		}
	})
}
