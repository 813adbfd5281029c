package breaker

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" = valid; else the start of the error message
	}{
		{Config{}, ""},
		{Config{Window: TimeWindow, WindowDuration: time.Minute, Buckets: 6}, ""},
		{Config{Window: 7}, "breaker: window: 7 is not"},
		{Config{WindowSize: -1}, "breaker: windowSize: -1 must be between"},
		{Config{WindowDuration: -time.Second}, "breaker: windowDuration: -1s must not be negative"},
		{Config{Buckets: -2}, "breaker: buckets: -2"},
		{Config{Window: TimeWindow, WindowDuration: 5, Buckets: 10}, "breaker: windowDuration: 5ns is shorter"},
		{Config{MinCalls: -1}, "breaker: minCalls: -1"},
		{Config{WindowSize: 10, MinCalls: 11}, "breaker: minCalls: 11 is larger than windowSize 10"},
		{Config{FailureRate: 150}, "breaker: failureRate: 150 must be a percentage in (0, 100]"},
		{Config{FailureRate: -5}, "breaker: failureRate: -5"},
		{Config{FailureRate: math.NaN()}, "breaker: failureRate: NaN"},
		{Config{SlowCallRate: 101, SlowCallDuration: time.Second}, "breaker: slowCallRate: 101"},
		{Config{SlowCallRate: 50}, "breaker: slowCallRate: 50 is set but slowCallDuration is zero"},
		{Config{SlowCallDuration: -1}, "breaker: slowCallDuration: -1ns"},
		{Config{ConsecutiveFailures: -3}, "breaker: consecutiveFailures: -3"},
		{Config{DisableFailureRate: true}, "breaker: disableFailureRate: true leaves no rule"},
		{Config{OpenDuration: -time.Second}, "breaker: openDuration: -1s"},
		{Config{OpenBackoff: 0.5}, "breaker: openBackoff: 0.5 must be at least 1"},
		{Config{OpenBackoff: math.Inf(1)}, "breaker: openBackoff: +Inf"},
		{Config{OpenDuration: time.Minute, MaxOpenDuration: time.Second}, "breaker: maxOpenDuration: 1s is shorter than openDuration 1m0s"},
		{Config{OpenJitter: 1}, "breaker: openJitter: 1 must be in [0, 1)"},
		{Config{HalfOpenProbes: -1}, "breaker: halfOpenProbes: -1"},
		{Config{HalfOpenProbes: 1 << 20}, "breaker: halfOpenProbes: 1048576"},
		{Config{SuccessThreshold: -1}, "breaker: successThreshold: -1"},
		{Config{ProbeTimeout: -1}, "breaker: probeTimeout: -1ns"},
		{Config{RampSteps: []float64{10, 5}}, "breaker: rampSteps[1]: 5 must be in (10, 100)"},
		{Config{RampSteps: []float64{100}}, "breaker: rampSteps[0]: 100"},
		{Config{RampStepDuration: -1}, "breaker: rampStepDuration: -1ns"},
		{Config{RampMinCalls: -1}, "breaker: rampMinCalls: -1"},
		{Config{GraceCalls: -1}, "breaker: graceCalls: -1"},
		{Config{GraceDuration: -1}, "breaker: graceDuration: -1ns"},
		{Config{GraceDuration: time.Minute}, "breaker: graceDuration: 1m0s must be shorter than openDuration"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%+v: unexpected error %v", tt.cfg, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want prefix %q", err, tt.want)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field == "" {
			t.Errorf("%v is not a *ConfigError with a field", err)
		}
		if _, nerr := New(tt.cfg); nerr == nil {
			t.Errorf("New accepted %+v", tt.cfg)
		}
	}
}

func TestDefaults(t *testing.T) {
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := b.Config()
	if c.WindowSize != 100 || c.MinCalls != 20 || c.FailureRate != 50 || c.OpenDuration != 30*time.Second ||
		c.HalfOpenProbes != 1 || c.SuccessThreshold != 1 || c.ProbeTimeout != 30*time.Second || c.MaxOpenDuration != 300*time.Second {
		t.Fatalf("defaults %+v", c)
	}
	small, _ := New(Config{WindowSize: 5})
	if small.Config().MinCalls != 5 {
		t.Fatalf("MinCalls default for a small window = %d", small.Config().MinCalls)
	}
}

func TestParseWindowKind(t *testing.T) {
	for in, want := range map[string]WindowKind{"": CountWindow, "count": CountWindow, "time": TimeWindow} {
		if got, err := ParseWindowKind(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseWindowKind("sliding"); err == nil || !strings.Contains(err.Error(), `"sliding"`) {
		t.Errorf("error %v", err)
	}
	if TimeWindow.String() != "time" || WindowKind(9).String() != "WindowKind(9)" {
		t.Error("String")
	}
}
