package admin

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// oddNames are guard names a path router would clean, redirect or split,
// each with the decoy that cleaning would reach instead.
var oddNames = []string{
	"/pkg.Svc/Method", // every gRPC guard under the default method key
	"a//b",
	"a/../b",
	"../x",
	"a/./b",
	"a/",
	"/",
	".",
	"..",
	"with space",
	"100%",
	"50%2F",
	"?q=1#frag",
	"GET /users/{id}",
}

var decoyNames = []string{"pkg.Svc/Method", "a/b", "b", "x", "a"}

// literalPath writes name in a URL path with its slashes and dot segments
// as they are, escaping only what a URL cannot hold otherwise: what a
// client that does not escape names sends.
func literalPath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		if s != "." && s != ".." {
			segs[i] = url.PathEscape(s)
		}
	}
	return strings.Join(segs, "/")
}

// noRedirects is a real client that reports a redirect instead of following
// it, so that a redirect to another guard cannot pass for an answer.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func oddRegistry(t *testing.T) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(append([]string{}, oddNames...), decoyNames...) {
		reg.MustGuard(n)
	}
	return reg
}

func getStatus(t *testing.T, c *http.Client, u string) (int, GuardStatus, Problem) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readSecret)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var st GuardStatus
	var p Problem
	if res.StatusCode == http.StatusOK {
		if err := jsonUnmarshal(body, &st); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
	} else {
		_ = jsonUnmarshal(body, &p)
	}
	return res.StatusCode, st, p
}

// Issue 15, item 6: a guard name with a leading slash, "//" or ".." could
// not be reached when a client wrote the slashes as they are: ServeMux
// cleaned the path and redirected the client to a 404, or to another guard.
func TestGuardNamesWithSlashesReachTheirGuard(t *testing.T) {
	reg := oddRegistry(t)
	a := newTestAPIFor(t, reg)
	c := noRedirects()
	for _, name := range oddNames {
		for form, p := range map[string]string{"literal": "/v1/guards/" + literalPath(name), "escaped": GuardPath(name)} {
			code, st, prob := getStatus(t, c, a.ts.URL+p)
			if code != http.StatusOK || st.Name != name {
				t.Errorf("%s %q: GET %s = %d, guard %q (%s); want 200 and the guard", form, name, p, code, st.Name, prob.Detail)
			}
		}
	}

	// Mounted behind a ServeMux (which cleans paths before the admin
	// handler sees them), the escaped form reaches every guard.
	mux := http.NewServeMux()
	mux.Handle("/ops/admin/", http.StripPrefix("/ops/admin", a.srv))
	outer := newServer(t, mux)
	for _, name := range oddNames {
		p := "/ops/admin" + GuardPath(name)
		code, st, prob := getStatus(t, c, outer.URL+p)
		if code != http.StatusOK || st.Name != name {
			t.Errorf("mounted %q: GET %s = %d, guard %q (%s); want 200 and the guard", name, p, code, st.Name, prob.Detail)
		}
	}

	// An unknown name is a 404 naming it, with the escaped path as the
	// problem's instance.
	code, _, prob := getStatus(t, c, a.ts.URL+"/v1/guards//nope/../x")
	if code != http.StatusNotFound || prob.Code != codeUnknownGuard || prob.Guard != "/nope/../x" || prob.Instance != "/v1/guards//nope/../x" {
		t.Errorf("unknown literal name: %d %+v", code, prob)
	}
	code, _, prob = getStatus(t, c, a.ts.URL+GuardPath("/nope x"))
	if code != http.StatusNotFound || prob.Guard != "/nope x" || prob.Instance != "/v1/guards/%2Fnope%20x" {
		t.Errorf("unknown escaped name: %d %+v", code, prob)
	}
	code, _, prob = getStatus(t, c, a.ts.URL+"/v1/guards/")
	if code != http.StatusNotFound || prob.Code != codeNotFound || !strings.Contains(prob.Detail, "GET /v1/guards") {
		t.Errorf("no name: %d %+v", code, prob)
	}
}

func TestGuardPath(t *testing.T) {
	for name, want := range map[string]string{
		"payments.charge": "/v1/guards/payments.charge",
		"/pkg.Svc/Method": "/v1/guards/%2Fpkg.Svc%2FMethod",
		"a/../b":          "/v1/guards/a%2F..%2Fb",
		".":               "/v1/guards/%2E",
		"..":              "/v1/guards/%2E%2E",
		"100% sure":       "/v1/guards/100%25%20sure",
		"GET /users/{id}": "/v1/guards/GET%20%2Fusers%2F%7Bid%7D",
	} {
		if got := GuardPath(name); got != want {
			t.Errorf("GuardPath(%q) = %q, want %q", name, got, want)
		}
	}
}

// Write operations name the guard in the body: each reaches its guard and
// no other, and a write sent to a guard's path changes nothing.
func TestWritesReachOnlyTheNamedGuard(t *testing.T) {
	reg := oddRegistry(t)
	a := newTestAPIFor(t, reg)
	all := append(append([]string{}, oddNames...), decoyNames...)
	for _, name := range oddNames {
		var res OperationResult
		a.op(OpOpen, aliceSecret, OperationRequest{Name: name, Reason: "maintenance"}).ok(t, &res)
		if len(res.Changes) != 1 || res.Changes[0].Guard != name || res.Changes[0].To != breaker.ForcedOpen {
			t.Fatalf("open %q: %+v", name, res)
		}
		for _, other := range all {
			want := "closed"
			if other == name {
				want = "forced-open"
			}
			if got := a.state(other); got != want {
				t.Errorf("after opening %q, %q is %s, want %s", name, other, got, want)
			}
		}
		a.op(OpRelease, aliceSecret, OperationRequest{Name: name, Reason: "done"}).ok(t, nil)

		for _, p := range []string{"/v1/guards/" + literalPath(name), GuardPath(name)} {
			req, _ := http.NewRequest(http.MethodPost, a.ts.URL+p, strings.NewReader(`{"reason":"x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+aliceSecret)
			res, err := noRedirects().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST %s: %d, want 405", p, res.StatusCode)
			}
		}
		for _, other := range all {
			if got := a.state(other); got != "closed" {
				t.Errorf("%q is %s after POSTs to %q's path", other, got, name)
			}
		}
	}
}

// Issue 15, item 5 (and issue 16, item 7): an open "for 292 years" or
// "until 9999" overflowed and opened the breaker until a time in the past.
func TestOpenRefusesAbsurdDurationsAndTimes(t *testing.T) {
	a := newTestAPI(t)
	year := 365 * 24 * time.Hour
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	twoCenturies := time.Now().Add(200 * year).UTC().Truncate(time.Second)
	cases := []struct {
		name   string
		body   any
		detail string
	}{
		{"200 years", OperationRequest{Name: "search", Reason: "x", Duration: core.Duration(200 * year)},
			"duration: 1752000h0m0s is longer than the maximum, about 146 years"},
		{"292 years", `{"name":"search","reason":"x","duration":"2562047h"}`,
			"duration: 2562047h0m0s is longer than the maximum, about 146 years"},
		{"until 9999", OperationRequest{Name: "search", Reason: "x", Until: &far},
			"until: 9999-12-31T00:00:00Z is more than about 146 years (2^62ns) from now"},
		{"until in 200 years", OperationRequest{Name: "search", Reason: "x", Until: &twoCenturies},
			"until: " + formatTime(twoCenturies) + " is more than about 146 years (2^62ns) from now"},
	}
	for _, c := range cases {
		p := a.do(http.MethodPost, "/v1/operations/open", aliceSecret, c.body).problem(t, 400, codeInvalid)
		if !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%s: detail %q, want %q", c.name, p.Detail, c.detail)
		}
		if s := a.state("search"); s != "closed" {
			t.Fatalf("%s: search is %s after a refused open", c.name, s)
		}
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Errorf("%d audit records for refused opens", n)
	}

	// The maximum itself is accepted, and opens until a time in the future.
	var res OperationResult
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "x", Duration: core.Duration(core.MaxDuration)}).ok(t, &res)
	if c := res.Changes[0]; c.To != breaker.Open || c.OpenUntil == nil || c.OpenUntil.Before(time.Now().Add(core.MaxDuration-time.Hour)) {
		t.Fatalf("open for the maximum: %+v", c)
	}
}

func TestRestoreRefusesAbsurdTimes(t *testing.T) {
	a := newTestAPI(t)
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	doc := Snapshot{Version: 1, Guards: []SnapshotGuard{
		{Name: "payments.charge"},
		{Name: "search", State: breaker.Open, Override: &Override{State: breaker.Open, Until: &far}},
	}}
	p := a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: doc}).problem(t, 400, codeInvalid)
	want := "snapshot: guards[1].override.until: 9999-12-31T00:00:00Z is more than about 146 years (2^62ns) from now"
	if !strings.Contains(p.Detail, want) {
		t.Errorf("detail %q, want %q", p.Detail, want)
	}
	if s := a.state("search"); s != "closed" {
		t.Errorf("search is %s after a refused restore", s)
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Errorf("%d audit records", n)
	}
}
