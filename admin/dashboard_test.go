package admin

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestDashboardPage(t *testing.T) {
	a := newTestAPI(t) // tokens, no open read: the page is still public
	r := a.do(http.MethodGet, "/", "", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %v", r.status, r.header)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	html := string(r.body)
	// No inline script or style, and every asset the page names is served
	// (relative, so that the page works under any prefix).
	if regexp.MustCompile(`<script[^>]*>[^<]`).MatchString(html) || strings.Contains(html, "<style") || strings.Contains(html, " style=") {
		t.Error("the page has inline script or style")
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 3 {
		t.Fatalf("assets %q", refs)
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "assets/") {
			t.Errorf("the page refers to %q, not a relative asset", m[1])
			continue
		}
		ar := a.do(http.MethodGet, "/"+m[1], "", nil)
		if ar.status != http.StatusOK || ar.header.Get("ETag") == "" || ar.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", m[1], ar.status, ar.header)
		}
	}
	for path, ct := range map[string]string{
		"/assets/dashboard.js":  "text/javascript; charset=utf-8",
		"/assets/dashboard.css": "text/css; charset=utf-8",
		"/assets/favicon.svg":   "image/svg+xml",
	} {
		if got := a.do(http.MethodGet, path, "", nil).header.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", path, got, ct)
		}
	}
	a.do(http.MethodGet, "/assets/nope.js", "", nil).problem(t, 404, codeNotFound)
	a.do(http.MethodPost, "/", "", nil).problem(t, 405, codeMethod)

	// Revalidation.
	etag := a.do(http.MethodGet, "/assets/dashboard.js", "", nil).header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, a.ts.URL+"/assets/dashboard.js", nil)
	req.Header.Set("If-None-Match", etag)
	if r := a.send(req); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", r.status, len(r.body))
	}
}

// Nothing in the embedded files reaches beyond the server: no CDN, no
// absolute URL, no inline handler attribute.
func TestDashboardAssetsSelfContained(t *testing.T) {
	sub, _ := fs.Sub(dashboardFS, "dashboard")
	names, _ := fs.Glob(sub, "*")
	if len(names) < 4 {
		t.Fatalf("assets %q", names)
	}
	for _, n := range names {
		b, _ := fs.ReadFile(sub, n)
		s := string(b)
		if n == "favicon.svg" {
			s = strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
		}
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).FindString(s); m != "" {
			t.Errorf("%s refers to %q", n, m)
		}
		if m := regexp.MustCompile(`(?i)\son[a-z]+="`).FindString(s); m != "" {
			t.Errorf("%s has an inline handler %q", n, m)
		}
		if strings.Contains(s, "eval(") || strings.Contains(s, "innerHTML") {
			t.Errorf("%s uses eval or innerHTML", n)
		}
	}
	// The token is kept in sessionStorage, never in localStorage or a URL.
	js, _ := fs.ReadFile(sub, "dashboard.js")
	if strings.Contains(string(js), "localStorage") || !strings.Contains(string(js), "sessionStorage") {
		t.Error("dashboard.js must keep the token in sessionStorage only")
	}
}

func TestWhoami(t *testing.T) {
	a := newTestAPI(t)
	var id Identity
	a.do(http.MethodGet, "/v1/whoami", aliceSecret, nil).ok(t, &id)
	if id != (Identity{Actor: "alice", Access: "write", Writable: true}) {
		t.Errorf("alice: %+v", id)
	}
	a.do(http.MethodGet, "/v1/whoami", readSecret, nil).ok(t, &id)
	if id != (Identity{Actor: "grafana", Access: "read", Writable: true}) {
		t.Errorf("grafana: %+v", id)
	}
	a.do(http.MethodGet, "/v1/whoami", "", nil).problem(t, 401, codeUnauthorized)
	a.do(http.MethodGet, "/v1/whoami", "not-a-token-at-all-0000", nil).problem(t, 401, codeUnauthorized)

	open := newTestAPI(t, WithOpenRead())
	open.do(http.MethodGet, "/v1/whoami", "", nil).ok(t, &id)
	if id != (Identity{Actor: "anonymous", Access: "read", Writable: true}) {
		t.Errorf("anonymous: %+v", id)
	}
	// Without any token the API is read-only for everyone.
	bare, err := New(testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bare.Close() })
	b := &testAPI{t: t, srv: bare, ts: newServer(t, bare)}
	b.do(http.MethodGet, "/v1/whoami", "", nil).ok(t, &id)
	if id != (Identity{Actor: "anonymous", Access: "read"}) {
		t.Errorf("no tokens: %+v", id)
	}
}
