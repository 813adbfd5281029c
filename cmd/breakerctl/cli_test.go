package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
)

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9090":               "http://127.0.0.1:9090",
		"http://host:1/admin/":         "http://host:1/admin",
		"https://ops.example.com/bbx":  "https://ops.example.com/bbx",
		"http://[::1]:8080":            "http://[::1]:8080",
		"localhost:9090/prefix/admin/": "http://localhost:9090/prefix/admin",
	} {
		got, err := baseURL(in)
		if err != nil || got != want {
			t.Errorf("baseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ftp://x", "http://", "http://h/?q=1", "http://h/#f"} {
		if _, err := baseURL(in); exitCode(err) != exitUsage {
			t.Errorf("baseURL(%q): %v, want a usage error", in, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	if got, err := parseSince("90m", now); err != nil || !got.Equal(now.Add(-90*time.Minute)) {
		t.Errorf("90m: %v %v", got, err)
	}
	if got, err := parseSince("2030-01-01T00:00:00Z", now); err != nil || got.Day() != 1 {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	for _, bad := range []string{"-1h", "yesterday", "2030-01-01"} {
		if _, err := parseSince(bad, now); exitCode(err) != exitUsage {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestExitCodeOf(t *testing.T) {
	cases := map[int]error{
		exitOK:          nil,
		exitRefused:     refused(&wire.Problem{Status: 404}),
		exitUsage:       errors.New("unknown command"),
		exitUnreachable: unreachable(errors.New("connection refused")),
	}
	for want, err := range cases {
		if got := exitCode(err); got != want {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, want)
		}
	}
	if got := exitCode(usageErrorf("x")); got != exitUsage {
		t.Errorf("usage error: %d", got)
	}
}

func TestTableAlignsWithColour(t *testing.T) {
	tb := &table{color: true, head: []string{"A", "B"}}
	tb.add(cell{text: "closed", color: green}, plain("x"))
	tb.add(cell{text: "forced-open", color: red}, plain("y"))
	var buf bytes.Buffer
	tb.write(&buf)
	plainText := strings.NewReplacer("\x1b[1m", "", "\x1b[31m", "", "\x1b[32m", "", "\x1b[0m", "").Replace(buf.String())
	want := "A            B\nclosed       x\nforced-open  y\n"
	if plainText != want {
		t.Errorf("got\n%q\nwant\n%q", plainText, want)
	}
	if !strings.Contains(buf.String(), "\x1b[31mforced-open\x1b[0m  y") {
		t.Errorf("colour wraps the padding: %q", buf.String())
	}
}

func TestRunInProcess(t *testing.T) {
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	if code := run(context.Background(), []string{"status"}, nil, &out, &errOut, env); code != exitUsage || !strings.Contains(errOut.String(), "no server address") {
		t.Errorf("code %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"status", "--color", "sometimes", "--addr", "x:1"}, nil, &out, &errOut, env); code != exitUsage {
		t.Errorf("bad --color: code %d, stderr %q", code, errOut.String())
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300 * time.Millisecond:          "0s",
		90 * time.Second:                "1m30s",
		3*24*time.Hour + 5*time.Hour:    "3d5h",
		29*time.Minute + 59*time.Second: "29m59s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour:                    "1h",
		time.Second:                  "1s",
		90 * time.Second:             "1m30s",
		time.Minute:                  "1m",
		time.Hour + time.Second:      "1h0m1s",
		250 * time.Millisecond:       "250ms",
		2*time.Hour + 30*time.Minute: "2h30m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q; want %q", d, got, want)
		}
	}
}
