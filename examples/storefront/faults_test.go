package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func TestFaultFlag(t *testing.T) {
	ff := faultFlag{}
	for _, s := range []string{"payments:failure=0.3,latency=200ms", "inventory:outage=true", "payments:outage=false"} {
		if err := ff.Set(s); err != nil {
			t.Fatalf("Set(%q): %v", s, err)
		}
	}
	got := defaultFaults(ff)
	if want := (Fault{FailureRate: 0.3, Latency: core.Duration(200 * time.Millisecond)}); got[fakePayments] != want {
		t.Errorf("payments = %+v, want %+v", got[fakePayments], want)
	}
	if !got[fakeInventory].Outage || got[fakeInventory].Latency == 0 {
		t.Errorf("inventory = %+v, want an outage and the default latency", got[fakeInventory])
	}
	if s := ff.String(); s != "payments:failure=0.3,latency=200ms,outage=false inventory:outage=true" {
		t.Errorf("String() = %q", s)
	}

	for s, want := range map[string]string{
		"payments":                "want NAME:key=value",
		"shipping:failure=0.1":    "want NAME:key=value",
		"payments:failure=2":      "failureRate: 2 must be between 0 and 1",
		"payments:failure=x":      `failureRate: "x" is not a number`,
		"payments:latency=-1s":    "latency: -1s must be between 0s and 30s",
		"payments:latency=soon":   `latency: "soon" is not a duration`,
		"payments:outage=perhaps": `outage: "perhaps" is not true or false`,
		"payments:colour=red":     `unknown key "colour"`,
	} {
		err := faultFlag{}.Set(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%q) = %v, want an error containing %q", s, err, want)
		}
	}
}

func TestControlHandler(t *testing.T) {
	fs := newFaults(defaultFaults(nil))
	var changes []string
	fs.onChange = func(name string, f Fault) { changes = append(changes, name+": "+f.describe()) }
	srv := httptest.NewServer(fs.controlHandler())
	defer srv.Close()

	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/control/faults/payments", `{"outage": true}`, 200, `"outage":true`},
		{"/control/faults/payments", `{"failureRate": 0.5, "latency": "400ms"}`, 200, `{"failureRate":0.5,"latency":"400ms","outage":true}`},
		{"/control/faults/payments/reset", ``, 200, `{"failureRate":0.02,"latency":"40ms","outage":false}`},
		{"/control/faults/payments", `{"failureRate": -0.1}`, 400, "failureRate: -0.1 must be between 0 and 1"},
		{"/control/faults/payments", `{"latency": "1m"}`, 400, "latency: 1m0s must be between 0s and 30s"},
		{"/control/faults/payments", `{"latency": "soon"}`, 400, "invalid fault"},
		{"/control/faults/payments", `{"outages": true}`, 400, `unknown field \"outages\"`},
		{"/control/faults/shipping", `{"outage": true}`, 404, `no fake called \"shipping\"`},
		{"/control/faults/shipping/reset", ``, 404, `no fake called \"shipping\"`},
	} {
		status, body := post(c.path, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("POST %s %s = %d %s, want %d with %q", c.path, c.body, status, body, c.status, c.want)
		}
	}
	if want := []string{
		"payments: outage: every call fails",
		"payments: outage: every call fails",
		"payments: fails 2% of calls, 40ms latency",
	}; strings.Join(changes, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes = %q, want %q", changes, want)
	}
}

func TestInject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := newFaults(map[string]Fault{
			fakePayments:        {Outage: true, Latency: core.Duration(time.Second)},
			fakeInventory:       {FailureRate: 1, Latency: core.Duration(time.Second)},
			fakeRecommendations: {Latency: core.Duration(time.Second)},
		})
		ctx := context.Background()
		start := time.Now()
		if err := fs.Inject(ctx, fakePayments); !errors.Is(err, errOutage) || time.Since(start) != 0 {
			t.Errorf("outage: %v after %v, want errOutage at once", err, time.Since(start))
		}
		if err := fs.Inject(ctx, fakeInventory); !errors.Is(err, errInjected) {
			t.Errorf("failure rate 1: %v, want errInjected", err)
		}
		if d := time.Since(start); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Errorf("latency 1s took %v, want 1s ± 20%%", d)
		}
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := fs.Inject(cctx, fakeRecommendations); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("latency past the deadline: %v, want the context's error", err)
		}
	})
}
