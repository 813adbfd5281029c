package ratelimit

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Limit: 1}, ""},
		{Config{Limit: 1e9}, ""},
		{Config{Algorithm: AlgorithmSlidingWindow, Limit: 1 << 20, Per: time.Minute}, ""},
		{Config{Limit: -3}, "ratelimit: limit: -3 must be > 0"},
		{Config{}, "ratelimit: limit: 0 must be > 0"},
		{Config{Limit: math.NaN()}, "ratelimit: limit: NaN must be > 0"},
		{Config{Limit: math.Inf(1)}, "ratelimit: limit: +Inf must be finite"},
		{Config{Limit: 1, Per: -time.Second}, "ratelimit: per: -1s must be > 0"},
		{Config{Limit: 1, Burst: -1}, "ratelimit: burst: -1 must be >= 0"},
		{Config{Algorithm: 9, Limit: 1}, "ratelimit: algorithm: 9 is not a known algorithm"},
		{Config{Limit: 2e9}, "ratelimit: limit: 2e+09 per 1s is more than one call per nanosecond"},
		{Config{Limit: 1e-10}, "ratelimit: limit: 1e-10 per 1s is less than one call per 36 years"},
		{Config{Limit: 1, Per: time.Hour, Burst: 1 << 40}, "ratelimit: burst: 1099511627776 calls of 1h0m0s each span more than 36 years"},
		{Config{Algorithm: AlgorithmSlidingWindow, Limit: 2e6}, "ratelimit: limit: 2e+06 must be at most 1048576 per window for sliding_window"},
		{Config{Algorithm: AlgorithmSlidingWindow, Limit: 1e-12}, "ratelimit: limit: 1e-12 per 1s makes a window of 1 calls out of range [1ns, 36y]"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && fmt.Sprint(err) != tt.want {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
		if _, err2 := New(tt.cfg); fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Errorf("New(%+v) = %v, Validate = %v", tt.cfg, err2, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		in, want Config
	}{
		{Config{Limit: 10}, Config{Algorithm: AlgorithmTokenBucket, Limit: 10, Per: time.Second, Burst: 10}},
		{Config{Limit: 0.5, Per: time.Minute}, Config{Algorithm: AlgorithmTokenBucket, Limit: 0.5, Per: time.Minute, Burst: 1}},
		{Config{Algorithm: AlgorithmGCRA, Limit: 2.5, Burst: 7}, Config{Algorithm: AlgorithmGCRA, Limit: 2.5, Per: time.Second, Burst: 7}},
		{Config{Algorithm: AlgorithmSlidingWindow, Limit: 100}, Config{Algorithm: AlgorithmSlidingWindow, Limit: 100, Per: time.Second}},
	}
	for _, tt := range tests {
		l, err := New(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.(interface{ Config() Config }).Config(); got != tt.want {
			t.Errorf("New(%+v).Config() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestNewTypes(t *testing.T) {
	for algo, want := range map[Algorithm]string{
		AlgorithmDefault:       "*ratelimit.TokenBucket",
		AlgorithmTokenBucket:   "*ratelimit.TokenBucket",
		AlgorithmGCRA:          "*ratelimit.GCRA",
		AlgorithmSlidingWindow: "*ratelimit.SlidingWindow",
	} {
		l, err := New(Config{Algorithm: algo, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", l); got != want {
			t.Errorf("New(%v) is a %s, want %s", algo, got, want)
		}
	}
	if _, err := NewGCRA(Config{Algorithm: AlgorithmTokenBucket, Limit: 1}); fmt.Sprint(err) != "ratelimit: algorithm: token_bucket does not match a gcra limiter" {
		t.Errorf("NewGCRA(token_bucket) = %v", err)
	}
	if _, err := NewTokenBucket(Config{}); err == nil {
		t.Error("NewTokenBucket(Config{}) succeeded")
	}
	if _, err := NewSlidingWindow(Config{Limit: -1}); err == nil {
		t.Error("NewSlidingWindow(-1) succeeded")
	}
}

func TestAlgorithmText(t *testing.T) {
	for _, tt := range []struct {
		a    Algorithm
		text string
	}{
		{AlgorithmDefault, ""},
		{AlgorithmTokenBucket, "token_bucket"},
		{AlgorithmGCRA, "gcra"},
		{AlgorithmSlidingWindow, "sliding_window"},
	} {
		if got := tt.a.String(); got != tt.text {
			t.Errorf("%d.String() = %q", tt.a, got)
		}
		if got, err := ParseAlgorithm(tt.text); got != tt.a || err != nil {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", tt.text, got, err)
		}
		b, err := json.Marshal(struct{ A Algorithm }{tt.a})
		if err != nil || string(b) != `{"A":"`+tt.text+`"}` {
			t.Errorf("json.Marshal = %s, %v", b, err)
		}
		var v struct{ A Algorithm }
		if err := json.Unmarshal(b, &v); err != nil || v.A != tt.a {
			t.Errorf("json.Unmarshal(%s) = %v, %v", b, v.A, err)
		}
	}
	if _, err := ParseAlgorithm("leaky"); fmt.Sprint(err) != `ratelimit: algorithm: "leaky" is not one of token_bucket, gcra, sliding_window` {
		t.Errorf("ParseAlgorithm(leaky) = %v", err)
	}
	var a Algorithm
	if err := a.UnmarshalText([]byte("x")); err == nil {
		t.Error("UnmarshalText(x) succeeded")
	}
	if _, err := Algorithm(7).MarshalText(); err == nil || Algorithm(7).String() != "Algorithm(7)" {
		t.Errorf("Algorithm(7): %v, %s", err, Algorithm(7))
	}
}

func TestErrLimited(t *testing.T) {
	if !errors.Is(ErrLimited, reject.ErrRejected) {
		t.Error("ErrLimited does not match ErrRejected")
	}
	if ErrLimited.ErrorType() != "rate_limited" || ErrLimited.Error() != "ratelimit: limited" {
		t.Errorf("ErrLimited = %q, %q", ErrLimited.Error(), ErrLimited.ErrorType())
	}
}
