package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
)

type traceKey struct{}

func traceFromContext(ctx context.Context) string {
	id, _ := ctx.Value(traceKey{}).(string)
	return id
}

// Issue 18: the dashboard showed a mode set by a guard's policy as
// "manual", and had no link from a state change or a rejection to the
// trace of the call behind it in the APM.
func TestDashboardTraceLinksAndPolicyModes(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "off", Breaker: &core.BreakerPolicy{Mode: "disabled"}},
		core.Policy{Name: "fragile", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}},
	))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("legacy", core.UsePolicy("off"))
	g := reg.MustGuard("payments", core.UsePolicy("fragile"))
	const tmpl = "http://jaeger.example:16686/trace/{traceId}"
	srv, err := admin.New(reg, admin.WithTraceLinks(tmpl, traceFromContext), admin.WithPushInterval(200*time.Millisecond), admin.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })

	tb := newTab(t, newBrowser(t))
	tb.do(chromedp.Navigate(ts.URL + "/"))
	tb.waitFor("the guards", `window.breakerbox && breakerbox.stats.hellos > 0 && document.querySelectorAll('#grid .tile').length === 2`, 20*time.Second)
	tb.waitFor("the policy's mode on the tile", `document.querySelector('#grid .tile[data-guard="legacy"] .countdown').textContent.startsWith('policy · ')`, 5*time.Second)

	// A call in a trace trips the breaker; a later one is rejected.
	const tripTrace, rejectTrace = "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
	p, err := g.Allow(context.WithValue(context.Background(), traceKey{}, tripTrace))
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errors.New("card network down"))
	tb.waitFor("the trip", tileState("payments")+` === 'open'`, 5*time.Second)
	if _, err := g.Allow(context.WithValue(context.Background(), traceKey{}, rejectTrace)); err == nil {
		t.Fatal("the open breaker admitted a call")
	}

	tb.openDetail("payments")
	link := func(id string) string { return `'http://jaeger.example:16686/trace/` + id + `'` }
	tb.waitFor("the link to the tripping call's trace", `[...document.querySelectorAll('#detail-traces a')].some((a) => a.href === `+link(tripTrace)+`)`, 5*time.Second)
	tb.waitFor("the link to the rejected call's trace", `[...document.querySelectorAll('#detail-traces a')].some((a) => a.href === `+link(rejectTrace)+`)`, 5*time.Second)
	tb.waitFor("the link in the transitions table", `[...document.querySelectorAll('#detail-transitions a')].some((a) => a.href === `+link(tripTrace)+` && a.rel === 'noopener noreferrer')`, 5*time.Second)
	tb.do(chromedp.Click(chromedp.ID("detail-close")))

	tb.openDetail("legacy")
	tb.waitFor("the policy badge", `document.getElementById('detail-state').textContent === 'disabled (policy)'`, 5*time.Second)
	tb.noErrors()
}
