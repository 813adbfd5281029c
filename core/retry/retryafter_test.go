package retry

import (
	"math/big"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		// delay-seconds
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"\t007\r\n", 7 * time.Second, true},
		{"86400", MaxRetryAfter, true},
		{"86401", MaxRetryAfter, true},
		{"9223372036854775807", MaxRetryAfter, true},
		{"99999999999999999999999999999", MaxRetryAfter, true},
		// HTTP-date, in its three forms
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Sat Mar  1 12:00:05 2025", 5 * time.Second, true},     // asctime
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0, true},              // past
		{"Mon, 01 Jan 0001 00:00:00 GMT", 0, true},              // far past: no overflow
		{"Fri, 01 Mar 2030 12:00:00 GMT", MaxRetryAfter, true},  // far future: capped
		{"Fri, 31 Dec 9999 23:59:59 GMT", MaxRetryAfter, true},
		// malformed
		{"", 0, false},
		{"   ", 0, false},
		{"-1", 0, false},
		{"-99999999999999999999", 0, false},
		{"1.5", 0, false},
		{"10s", 0, false},
		{"1 2", 0, false},
		{"+5", 0, false},
		{"0x10", 0, false},
		{"soon", 0, false},
		{"2025-03-01T12:00:30Z", 0, false},
		{"Sat, 01 Mar 2025 12:00:30 PST", 0, false},      // IMF-fixdate is GMT only
		{"Saturday, 01-Mar-25 12:01:00 UTC", 0, false},   // so is RFC 850
		{"Sat, 1 Mar 2025 12:00:30 GMT", 0, false},       // day is 2DIGIT
		{"Sat, 32 Mar 2025 12:00:30 GMT", 0, false},      // no such day
		{"Sat, 01 Mar 2025 12:00:30 GMT junk", 0, false}, // trailing garbage
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseRetryAfterAllocatesNothing pins the cost of reading a well-formed
// hint (a malformed date costs time.Parse's error).
func TestParseRetryAfterAllocatesNothing(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "99999999999", "Sat, 01 Mar 2025 12:00:30 GMT", "-1"} {
		if n := testing.AllocsPerRun(100, func() { ParseRetryAfter(v, now) }); n != 0 {
			t.Errorf("ParseRetryAfter(%q) allocates %v times", v, n)
		}
	}
}

// FuzzParseRetryAfter holds the parser against a naive model: an all-digit
// value is seconds (read with arbitrary precision, then capped); any other
// value it accepts is a date that net/http's ParseTime reads the same way;
// and every IMF-fixdate is accepted. Results are never negative nor above
// the cap, and a refusal returns 0.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{
		"0", "120", "99999999999999999999", "-1", "1.5", " 3 ", "\t", "0x10",
		"Sat, 01 Mar 2025 12:00:30 GMT", "Saturday, 01-Mar-25 12:01:00 GMT", "Sat Mar  1 12:00:05 2025",
	} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || d > MaxRetryAfter || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v", s, d, ok)
		}
		v := strings.TrimSpace(s)
		if v != "" && strings.Trim(v, "0123456789") == "" {
			n, _ := new(big.Int).SetString(v, 10)
			want := MaxRetryAfter
			if n.Cmp(big.NewInt(int64(MaxRetryAfter/time.Second))) <= 0 {
				want = time.Duration(n.Int64()) * time.Second
			}
			if !ok || d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v", s, d, ok, want)
			}
			return
		}
		date, err := http.ParseTime(v)
		if ok {
			if err != nil {
				t.Fatalf("ParseRetryAfter(%q) accepted a value that is neither seconds nor a date", s)
			}
			if want := min(max(date.Sub(now), 0), MaxRetryAfter); d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v; net/http reads the date as %v, want %v", s, d, date, want)
			}
		} else if _, err := time.Parse(http.TimeFormat, v); err == nil {
			t.Fatalf("ParseRetryAfter(%q) refused an IMF-fixdate", s)
		}
	})
}

// TestRetryDoesNotDependOnNetHTTP pins why ParseRetryAfter reads dates with
// the time package: core/retry is imported by every guard, and net/http
// (with crypto/tls and more) must not come with it.
func TestRetryDoesNotDependOnNetHTTP(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net/http" {
			t.Errorf("core/retry depends on net/http")
		}
	}
}
