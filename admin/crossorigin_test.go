package admin

// Regression tests for issue 16, "Hardening: the operator surface under
// hostile input".

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 16, item 10: Basic credentials, which a browser caches and sends by
// itself, were accepted by every endpoint, writes included.
func TestBasicCredentialsOnlyOnDebug(t *testing.T) {
	a := newTestAPI(t)
	get, _ := http.NewRequest(http.MethodGet, a.ts.URL+"/v1/guards", nil)
	get.SetBasicAuth("grafana", readSecret)
	p := a.send(get).problem(t, 401, codeUnauthorized)
	if !strings.Contains(p.Detail, "Basic") || !strings.Contains(p.Detail, "/debug") {
		t.Errorf("detail %q", p.Detail)
	}
	post, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/v1/operations/open", strings.NewReader(`{"name":"search","reason":"x"}`))
	post.Header.Set("Content-Type", "application/json")
	post.SetBasicAuth("alice", aliceSecret)
	a.send(post).problem(t, 401, codeUnauthorized)
	if a.state("search") != "closed" {
		t.Error("a write with Basic credentials went through")
	}
	dbg, _ := http.NewRequest(http.MethodGet, a.ts.URL+"/debug", nil)
	dbg.SetBasicAuth("grafana", readSecret)
	if r := a.send(dbg); r.status != 200 {
		t.Errorf("/debug with Basic credentials: %d %s", r.status, r.body)
	}
}

// Issue 16, item 10: cross-site writes were stopped only by the JSON
// content-type rule.
func TestCrossSiteWritesRefused(t *testing.T) {
	a := newTestAPI(t)
	write := func(header ...string) response {
		req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/v1/operations/open", strings.NewReader(`{"name":"search","reason":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+aliceSecret)
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return a.send(req)
	}
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "cross-site", "Origin", a.ts.URL},
		{"Origin", "https://evil.example"},
		{"Origin", "null"},
	} {
		p := write(h...).problem(t, 403, codeCrossOrigin)
		if !strings.Contains(p.Detail, h[0]) {
			t.Errorf("%q: detail %q does not name the header", h, p.Detail)
		}
	}
	if a.state("search") != "closed" {
		t.Fatal("a cross-site write went through")
	}
	// A dry-run prune is a POST too.
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/v1/prune", strings.NewReader(`{"idle":"1h","dryRun":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+readSecret)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	a.send(req).problem(t, 403, codeCrossOrigin)

	// Same-origin browsers and clients without those headers go through.
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "same-origin"},
		{"Sec-Fetch-Site", "none"},
		{"Origin", a.ts.URL},
		nil,
	} {
		write(h...).ok(t, nil)
	}
	// Reads are not affected.
	req, _ = http.NewRequest(http.MethodGet, a.ts.URL+"/v1/guards", nil)
	req.Header.Set("Authorization", "Bearer "+readSecret)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	a.send(req).ok(t, nil)

	// A trusted origin may write.
	b := newTestAPI(t, WithTrustedOrigins("https://ops.example"))
	req, _ = http.NewRequest(http.MethodPost, b.ts.URL+"/v1/operations/open", strings.NewReader(`{"name":"search","reason":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+aliceSecret)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://ops.example")
	b.send(req).ok(t, nil)
	if _, err := New(testRegistry(t), WithTrustedOrigins("ops.example/path")); err == nil {
		t.Error("WithTrustedOrigins accepted an origin with a path")
	}
}

// Issue 16, item 10: the debug page could be framed by another site.
func TestDebugPageRefusesFraming(t *testing.T) {
	a := newTestAPI(t)
	r := a.do(http.MethodGet, "/debug", readSecret, nil)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if xfo := r.header.Get("X-Frame-Options"); xfo != "DENY" {
		t.Errorf("X-Frame-Options %q", xfo)
	}
}
