package testgen

import (
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func TestSampleName(t *testing.T) {
	for _, tc := range []struct {
		pattern, want string
		wild          bool
	}{
		{"api.stripe.com", "api.stripe.com", false},
		{"payments.*", "payments.sample", true},
		{"GET /catalog/**", "GET /catalog/sample", true},
		{"/pkg.Svc/*", "/pkg.Svc/sample", true},
		{"[a-c]x?", "axx", true},
		{"[^x]y", "ay", true},
		{`a\*b`, "a*b", false},
		{"*", "sample", true},
	} {
		got, wild := sampleName(tc.pattern)
		if got != tc.want || wild != tc.wild {
			t.Errorf("sampleName(%q) = %q, %v; want %q, %v", tc.pattern, got, wild, tc.want, tc.wild)
		}
		if ok, _ := core.MatchName(tc.pattern, got); !ok {
			t.Errorf("%q does not match its sample %q", tc.pattern, got)
		}
	}
}

func TestArrange(t *testing.T) {
	for _, tc := range []struct {
		s, f, run int
		want      string
		ok        bool
	}{
		{3, 2, 0, "sssff", true},
		{3, 2, 3, "sssff", true},
		{3, 5, 3, "sffsffsf", true},
		{1, 5, 3, "", false},
		{4, 2, 1, "", false},
		{2, 0, 2, "ss", true},
	} {
		got, ok := arrange(tc.s, tc.f, tc.run)
		if got != tc.want || ok != tc.ok {
			t.Errorf("arrange(%d, %d, %d) = %q, %v; want %q, %v", tc.s, tc.f, tc.run, got, ok, tc.want, tc.ok)
		}
		if ok {
			if strings.Count(got, "s") != tc.s || strings.Count(got, "f") != tc.f {
				t.Errorf("arrange(%d, %d, %d) = %q: wrong counts", tc.s, tc.f, tc.run, got)
			}
			if tc.run > 0 && strings.Contains(got, strings.Repeat("f", tc.run)) {
				t.Errorf("arrange(%d, %d, %d) = %q: a run of %d failures", tc.s, tc.f, tc.run, got, tc.run)
			}
		}
	}
}

func TestFigures(t *testing.T) {
	if n := minFailures(50, 20); n != 10 {
		t.Errorf("minFailures(50, 20) = %d", n)
	}
	if n := minFailures(33.3, 10); n != 4 {
		t.Errorf("minFailures(33.3, 10) = %d", n)
	}
	if lo, hi := openBounds(30*time.Second, 0.1); lo != 26999*time.Millisecond || hi != 33001*time.Millisecond {
		t.Errorf("openBounds(30s, 0.1) = %v, %v", lo, hi)
	}
	for d, want := range map[time.Duration]string{0: "0", time.Second: "time.Second", 90 * time.Second: "90 * time.Second",
		1500 * time.Millisecond: "1500 * time.Millisecond", 7: "time.Duration(7)", 2 * time.Hour: "2 * time.Hour"} {
		if got := durExpr(d); got != want {
			t.Errorf("durExpr(%v) = %q, want %q", d, got, want)
		}
	}
	for in, want := range map[string]string{"policies/checkout.yaml": "checkout", "storefront": "storefront", "": "policy", "9lives.json": "x9lives", "my-policies.yaml": "myPolicies"} {
		if got := prefixFrom(in); got != want {
			t.Errorf("prefixFrom(%q) = %q, want %q", in, got, want)
		}
	}
	if got := goName("/inventory.v1.Inventory/Reserve"); got != "InventoryV1InventoryReserve" {
		t.Errorf("goName = %q", got)
	}
	if got := goString("a`b"); got != `"a`+"`"+`b"` {
		t.Errorf("goString with a backquote = %s", got)
	}
}
