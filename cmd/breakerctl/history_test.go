package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// historyServer is an admin API whose guard "payments" had 5 calls (2
// failed) in the 10 s from base, and 3 in the minute after, base being
// 10 minutes ago on a minute boundary.
func historyServer(t *testing.T) (addr string, base time.Time) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments")
	srv, err := admin.New(reg, admin.WithToken("grafana", inProcRead, admin.Read))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	calls := func(n, failed int) {
		for i := range n {
			p, err := g.Allow(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if i < failed {
				p.Done(errors.New("boom"))
			} else {
				p.Done(nil)
			}
		}
	}
	base = time.Now().Truncate(time.Minute).Add(-10 * time.Minute)
	srv.SampleAt(base)
	calls(5, 2)
	srv.SampleAt(base.Add(10 * time.Second))
	srv.SampleAt(base.Add(time.Minute))
	calls(3, 0)
	srv.SampleAt(base.Add(2 * time.Minute))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, base
}

func TestHistoryCommandTable(t *testing.T) {
	addr, _ := historyServer(t)
	code, out, stderr := runCtl(nil, "history", "payments", "--addr", addr, "--token", inProcRead, "--color", "never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "payments  ") || !strings.Contains(lines[0], "step 10s, 1m a column") {
		t.Fatalf("header %q", lines[0])
	}
	row := func(series string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == series {
				return f
			}
		}
		t.Fatalf("no %s row in\n%s", series, out)
		return nil
	}
	if f := row("calls"); f[1] != "8" || f[2] != "5" || !strings.ContainsAny(f[3], "▁▂▃▄▅▆▇█") {
		t.Fatalf("calls row %q", f)
	}
	if f := row("failed"); f[1] != "2" || f[2] != "2" {
		t.Fatalf("failed row %q", f)
	}
	if f := row("state"); len(f) != 2 || strings.Trim(f[1], ".") != "" {
		t.Fatalf("state row %q", f)
	}
}

func TestHistoryCommandJSONCutToSince(t *testing.T) {
	addr, base := historyServer(t)
	for _, tc := range []struct {
		args  []string
		step  time.Duration
		calls uint32
	}{
		{[]string{"--since", "1h"}, 10 * time.Second, 8},
		{[]string{"--since", "24h"}, time.Minute, 8},
		{[]string{"--since", "30m", "--step", "1m"}, time.Minute, 8},
		// From base+30s: the first span's 5 calls are before it.
		{[]string{"--since", base.Add(30 * time.Second).Format(time.RFC3339)}, 10 * time.Second, 3},
	} {
		code, out, stderr := runCtl(nil, append([]string{"history", "payments", "--json", "--addr", addr, "--token", inProcRead}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		var h wire.History
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		var sum uint32
		for _, v := range h.Guards[0].Calls {
			sum += v
		}
		if time.Duration(h.Step) != tc.step || sum != tc.calls || len(h.Guards[0].Calls) != h.Count {
			t.Errorf("%v: step %v, %d calls in %d of %d rollups from %v", tc.args, h.Step, sum, len(h.Guards[0].Calls), h.Count, h.Start)
		}
	}
}

func TestHistoryCommandRefusesWhatTheServerCannotServe(t *testing.T) {
	addr, _ := historyServer(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--since", "48h"}, exitUsage, `--since "48h" reaches 48h back; the server keeps 24h`},
		{[]string{"--since", "2h", "--step", "10s"}, exitUsage, "--step 10s covers the last 1h only"},
		{[]string{"--step", "5s"}, exitUsage, `--step "5s" is not 10s or 1m`},
		{[]string{"--since", "yesterday"}, exitUsage, `--since "yesterday"`},
	} {
		code, _, stderr := runCtl(nil, append([]string{"history", "payments", "--addr", addr, "--token", inProcRead}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if code, _, stderr := runCtl(nil, "history", "--addr", addr); code != exitUsage || !strings.Contains(stderr, "history takes GUARD") {
		t.Errorf("no guard: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCtl(nil, "history", "nope", "--addr", addr, "--token", inProcRead); code != exitRefused || !strings.Contains(stderr, "nope") {
		t.Errorf("unknown guard: exit %d, %q", code, stderr)
	}
}

func TestSparkline(t *testing.T) {
	if got := sparkline([]uint32{0, 1, 2, 8, 0, 0}, 6, 1); got != " ▁▂█" {
		t.Errorf("sparkline %q", got)
	}
	// Columns of 2 summed; nil is all zero.
	if got := sparkline([]uint32{1, 1, 0, 4}, 4, 2); got != "▄█" {
		t.Errorf("columns %q", got)
	}
	if got := sparkline(nil, 4, 1); got != "" {
		t.Errorf("nil %q", got)
	}
	if got := stateLine("0120003", 7, 2); got != "ho.F" {
		t.Errorf("state %q", got)
	}
}
