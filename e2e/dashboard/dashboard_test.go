package dashboard

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/png"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core/breaker"
)

var (
	screenshotPath = flag.String("screenshot", "", "also save the screenshot of the dashboard under load to this file, such as ../../docs/dashboard.png")
	serve          = flag.Bool("serve", false, "TestServeScene: serve the scene until interrupted, for a look in a browser")
)

const (
	guardCount   = 200
	pushInterval = 500 * time.Millisecond
	// stepTimeout bounds every browser step: a missing element fails the
	// test instead of hanging it.
	stepTimeout = 30 * time.Second
)

// chromiumPath finds the browser, or skips the test; under CI=true a
// missing browser fails it, so that CI never passes by skipping.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("BREAKERBOX_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is missing (%v); .ci/run installs it with apt-get install chromium", err)
		}
		t.Skipf("chromium is missing (%v); install it (apt-get install chromium) or set BREAKERBOX_CHROMIUM", err)
	}
	return p
}

// newBrowser starts a headless Chromium with a fresh profile and returns a
// context for it; tabs are child contexts.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab (with its own session storage) and the console
// messages its pages wrote.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatal(err)
	}
	tb := &tab{t: t, ctx: ctx}
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.messages = append(tb.messages, m)
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return tb
}

// do runs steps with the step timeout.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it holds, for at most d.
func (tb *tab) waitFor(what, predicate string, d time.Duration) time.Duration {
	tb.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(tb.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		tb.t.Fatalf("waiting %v for %s: %v", d, what, err)
	}
	return time.Since(start)
}

// open loads the dashboard and waits until it shows every guard.
func (tb *tab) open(sc *Scene, guards int) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(sc.URL))
	tb.waitFor("the guards", `window.breakerbox && breakerbox.stats.hellos > 0 && document.querySelectorAll('#grid .tile').length === `+strconv.Itoa(guards), 20*time.Second)
}

// noErrors fails the test if a page logged an error or threw.
func (tb *tab) noErrors() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, m := range tb.messages {
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleException:
			tb.t.Errorf("console %s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text)
		case chromedp.ConsoleWarning:
			tb.t.Logf("console warning: %s", m.Text)
		}
	}
}

// openDetail filters the grid down to the guard (so that no tile moves
// under the pointer) and clicks its name.
func (tb *tab) openDetail(name string) {
	tb.t.Helper()
	tb.setFilter(name)
	tb.waitFor("the filter", `document.querySelectorAll('#grid .tile').length === 1`, 5*time.Second)
	tb.do(chromedp.Click(chromedp.CSS(`#grid .tile[data-guard="` + name + `"] button.name`)))
	tb.waitFor("the detail view", `document.getElementById('detail').open && document.getElementById('detail-title').textContent === '`+name+`'`, 5*time.Second)
}

// setFilter types into the filter, replacing what it held.
func (tb *tab) setFilter(text string) {
	tb.t.Helper()
	tb.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('filter').value = ''`))
	if text == "" {
		tb.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('filter').dispatchEvent(new Event('input'))`))
		return
	}
	tb.do(chromedp.SendKeys(chromedp.ID("filter"), text))
}

func tileState(name string) string {
	return `(document.querySelector('#grid .tile[data-guard="` + name + `"]') || {dataset: {}}).dataset.state`
}

func TestDashboard(t *testing.T) {
	browser := newBrowser(t)
	start := time.Now()
	sc, err := NewScene(guardCount, pushInterval)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scene of %d guards with an hour of history built in %v", guardCount, time.Since(start).Round(time.Millisecond))
	t.Cleanup(sc.Close)
	sc.StartLoad()

	t.Run("read-only without a token", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.open(sc, guardCount)
		if n := eval[int](tb, `document.querySelectorAll('[data-op], #detail-controls button').length`); n != 0 {
			t.Fatalf("%d controls shown without a token", n)
		}
		// Not in the detail view either, nor in the group view.
		tb.openDetail("payments.refund")
		tb.waitFor("the detail's history", `document.querySelectorAll('#detail-transitions tr').length > 0`, 5*time.Second)
		if n := eval[int](tb, `document.querySelectorAll('[data-op], #detail-controls button').length`); n != 0 {
			t.Fatalf("%d controls in the detail view without a token", n)
		}
		tb.do(chromedp.Click(chromedp.ID("detail-close")))
		tb.setFilter("")
		tb.do(chromedp.Evaluate[chromedp.Void](`(v => { v.value = 'tag'; v.dispatchEvent(new Event('change')); })(document.getElementById('view'))`))
		tb.waitFor("the group view", `document.querySelectorAll('#groups .group').length > 5`, 5*time.Second)
		if n := eval[int](tb, `document.querySelectorAll('[data-op]').length`); n != 0 {
			t.Fatalf("%d controls in the group view without a token", n)
		}
		if got := eval[string](tb, `document.getElementById('who').textContent`); !strings.Contains(got, "Read-only") {
			t.Errorf("who: %q", got)
		}
		tb.noErrors()
	})

	t.Run("keyboard", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.open(sc, guardCount)
		// "/" goes to the filter; a tag filter narrows the grid.
		tb.do(chromedp.KeyEvent("/"))
		if id := eval[string](tb, `document.activeElement.id`); id != "filter" {
			t.Fatalf("focus on %q after /", id)
		}
		// CDP sends the "/" character as an event of its own, which the
		// page's preventDefault on keydown does not stop as a browser's
		// keyboard would: clear it.
		tb.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('filter').value = ''`))
		tb.do(chromedp.KeyEvent("tag:fedex"))
		tb.waitFor("the filter", `document.querySelectorAll('#grid .tile').length === 20`, 5*time.Second)
		// A tile's name is a button: Enter opens the detail, Escape closes it.
		tb.do(chromedp.Focus(chromedp.CSS(`#grid .tile[data-guard="shipping.label"] button.name`)), chromedp.KeyEvent(kb.Enter))
		tb.waitFor("the detail view", `document.getElementById('detail').open`, 5*time.Second)
		tb.do(chromedp.KeyEvent(kb.Escape))
		tb.waitFor("the detail view to close", `!document.getElementById('detail').open`, 5*time.Second)
		if got := eval[string](tb, `document.activeElement.textContent`); got != "shipping.label" {
			t.Errorf("focus after closing: %q", got)
		}
		// Every control has an accessible name.
		unnamed := eval[[]string](tb, `[...document.querySelectorAll('button, input, select, textarea, canvas')].filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim() || e.closest('[hidden]') || e.closest('dialog:not([open])'))).map(e => e.outerHTML.slice(0, 80))`)
		if len(unnamed) > 0 {
			t.Errorf("controls without a name: %q", unnamed)
		}
		tb.noErrors()
	})

	t.Run("failures turn a tile open", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.open(sc, guardCount)
		if got := eval[string](tb, tileState(Tripwire)); got != "closed" {
			t.Fatalf("%s is %q before the failures", Tripwire, got)
		}
		// Trip it once the page has settled: history drawn, rates coming.
		tb.waitFor("the page to settle", `breakerbox.stats.historyLoads > 0 && breakerbox.stats.events > 4`, 20*time.Second)
		t0 := eval[float64](tb, `performance.now()`)
		g, _ := sc.Registry.Lookup(Tripwire)
		for range 5 {
			p, err := g.Allow(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p.Done(errBoom)
		}
		if st := g.Breaker().State(); st != breaker.Open {
			t.Fatalf("the breaker is %s after 5 failures", st)
		}
		// The state change is pushed at once; the wait is bounded, and
		// generous for a loaded CI machine.
		took := tb.waitFor("the tile to turn open", tileState(Tripwire)+` === 'open'`, 10*pushInterval+5*time.Second)
		// Measured, not asserted: the page got the state event (not a
		// rates push) this long after the trip.
		if at := eval[float64](tb, `breakerbox.guards.get('`+Tripwire+`').stateAt || 0`); at <= t0 {
			t.Fatal("the tile turned open without a state event")
		}
		t.Logf("in the page, %.1f ms after the trip: the state event came; %.1f ms: the tile showed it (push interval %v; the test saw it after %v)",
			eval[float64](tb, `breakerbox.guards.get('`+Tripwire+`').stateAt`)-t0, eval[float64](tb, `breakerbox.guards.get('`+Tripwire+`').shownAt`)-t0,
			pushInterval, took.Round(time.Millisecond))
		if got := eval[string](tb, `document.querySelector('#grid .tile[data-guard="`+Tripwire+`"] .badge').textContent`); got != "open" {
			t.Errorf("badge %q, want the word open", got)
		}
		tb.noErrors()
	})

	t.Run("force open with a token", func(t *testing.T) {
		const guard, reason = "payments.refund", "e2e: game day drill"
		tb := newTab(t, browser)
		tb.open(sc, guardCount)
		tb.do(chromedp.Click(chromedp.ID("token-button")), chromedp.WaitVisible(chromedp.ID("token-input")))
		tb.do(chromedp.SendKeys(chromedp.ID("token-input"), WriteToken), chromedp.Click(chromedp.ID("token-submit")))
		tb.waitFor("sign-in", `document.getElementById('who').textContent.includes('alice (write)')`, 10*time.Second)
		if href := eval[string](tb, `location.href`); strings.Contains(href, WriteToken) {
			t.Fatalf("the token is in the URL %q", href)
		}
		if got := eval[string](tb, `sessionStorage.getItem('breakerbox.token')`); got != WriteToken {
			t.Fatalf("session storage holds %q", got)
		}
		tb.openDetail(guard)
		tb.do(chromedp.WaitVisible(chromedp.CSS(`#detail-controls button[data-op="open"]`)), chromedp.Click(chromedp.CSS(`#detail-controls button[data-op="open"]`)))
		tb.do(chromedp.WaitVisible(chromedp.ID("op-reason")))
		// No reason, no operation.
		tb.do(chromedp.Click(chromedp.ID("op-review")))
		tb.waitFor("the reason prompt", `document.getElementById('op-error').textContent !== ''`, 5*time.Second)
		tb.do(chromedp.SendKeys(chromedp.ID("op-reason"), reason), chromedp.Click(chromedp.ID("op-review")))
		tb.do(chromedp.WaitVisible(chromedp.ID("op-confirm")))
		if got := eval[string](tb, `document.getElementById('op-summary').textContent`); !strings.Contains(got, guard) || !strings.Contains(got, reason) || !strings.Contains(got, "alice") {
			t.Errorf("confirmation %q", got)
		}
		if g, _ := sc.Registry.Lookup(guard); g.Breaker().State() == breaker.ForcedOpen {
			t.Fatal("forced open before the confirmation")
		}
		tb.do(chromedp.Click(chromedp.ID("op-confirm")))
		tb.waitFor("the tile to turn forced-open", tileState(guard)+` === 'forced-open'`, 10*time.Second)
		if g, _ := sc.Registry.Lookup(guard); g.Breaker().State() != breaker.ForcedOpen {
			t.Fatalf("the breaker is %s", g.Breaker().State())
		}
		page, err := sc.Audit()
		if err != nil {
			t.Fatal(err)
		}
		var rec *admin.AuditRecord
		for i := range page.Records {
			if r := &page.Records[i]; r.Target.Name == guard && r.Op == admin.OpOpen {
				rec = r
			}
		}
		if rec == nil || rec.Actor != "alice" || rec.Reason != reason || rec.After[0].State != breaker.ForcedOpen || rec.Before[0].State == breaker.ForcedOpen {
			t.Fatalf("audit record %+v", rec)
		}
		// The detail view lists the operation.
		tb.waitFor("the operation in the detail view", `[...document.querySelectorAll('#detail-ops td')].some(td => td.textContent === '`+reason+`')`, 10*time.Second)
		tb.noErrors()
	})

	t.Run("200 guards under load", func(t *testing.T) {
		tb := newTab(t, browser)
		start := time.Now()
		tb.open(sc, guardCount)
		loaded := time.Since(start)
		// Let a few pushes and state changes come in.
		tb.waitFor("rates", `breakerbox.stats.events > 8 && document.querySelectorAll('#grid .tile[data-state="open"]').length > 0`, 20*time.Second)
		var full []float64
		for range 5 {
			full = append(full, eval[float64](tb, `breakerbox.measure()`))
		}
		type stats struct {
			Renders      int     `json:"renders"`
			LastRenderMs float64 `json:"lastRenderMs"`
			MaxRenderMs  float64 `json:"maxRenderMs"`
			FirstRender  float64 `json:"firstRenderMs"`
			SparkMs      float64 `json:"sparkMs"`
			Events       int     `json:"events"`
			Bytes        int     `json:"bytes"`
		}
		st := eval[stats](tb, `breakerbox.stats`)
		t.Logf("200 guards: page shown in %v; first render (hello, 200 tiles) %.1f ms; full re-render %.1f ms (of 5: %.1f..%.1f); %d renders, last %.1f ms, max %.1f ms; %d events, %d bytes of stream",
			loaded.Round(time.Millisecond), st.FirstRender, median(full), minOf(full), maxOf(full), st.Renders, st.LastRenderMs, st.MaxRenderMs, st.Events, st.Bytes)
		shot, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("the screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1440 || b.Dy() != 900 {
			t.Errorf("screenshot %v, want 1440x900", b)
		}
		out := filepath.Join(t.TempDir(), "dashboard.png")
		if *screenshotPath != "" {
			out = *screenshotPath
		}
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", out)
		tb.noErrors()
	})
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// TestServeScene serves the scene until interrupted (with -serve), to look
// at the dashboard in a browser.
func TestServeScene(t *testing.T) {
	if !*serve {
		t.Skip("run with -serve to serve the scene")
	}
	sc, err := NewScene(guardCount, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.StartLoad()
	t.Logf("dashboard at %s (write token %s); interrupt to stop", sc.URL, WriteToken)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Log(ctx.Err())
	}
}
