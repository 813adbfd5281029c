package datadog

import (
	"math"
	"testing"
)

func TestDelta(t *testing.T) {
	for _, c := range []struct {
		prev, cur uint64
		want      int64
	}{
		{0, 0, 0},
		{3, 5, 2},
		{5, 5, 0},
		{5, 3, 3}, // the guard was pruned and created afresh
		{0, math.MaxUint64, math.MaxInt64},
	} {
		if got := delta(c.prev, c.cur); got != c.want {
			t.Errorf("delta(%d, %d) = %d, want %d", c.prev, c.cur, got, c.want)
		}
	}
}

func TestTagValue(t *testing.T) {
	for in, want := range map[string]string{
		"payments.charge": "payments.charge",
		"a,b|c\nd\re":     "a_b_c_d_e",
		"env:prod":        "env:prod",
		"":                "",
	} {
		if got := tagValue(in); got != want {
			t.Errorf("tagValue(%q) = %q, want %q", in, got, want)
		}
	}
}
