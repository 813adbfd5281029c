package httpmw_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

// slowFirst is a server whose first request hangs until its client goes
// away or the test releases it, and whose later requests answer at once with their
// number; it counts requests by method.
type slowFirst struct {
	*httptest.Server
	hits      atomic.Int64
	mu        sync.Mutex
	byMethod  map[string]int
	bodies    []string
	cancelled chan struct{} // a token for each request whose client went away
	release   chan struct{} // closed to let a hanging first request answer
}

func newSlowFirst(t *testing.T) *slowFirst {
	s := &slowFirst{byMethod: map[string]int{}, cancelled: make(chan struct{}, 10), release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.byMethod[r.Method]++
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		if n == 1 {
			select {
			case <-r.Context().Done():
				s.cancelled <- struct{}{}
				return
			case <-s.release:
			}
		}
		_, _ = io.WriteString(w, "hit "+strconv.FormatInt(n, 10))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slowFirst) methodHits(m string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byMethod[m]
}

func hedgedClient(t *testing.T, p core.Policy) (*http.Client, *core.Registry) {
	t.Helper()
	p.Match = []string{"*"}
	reg, err := core.NewRegistry(core.WithPolicies(p))
	if err != nil {
		t.Fatal(err)
	}
	tr := httpmw.NewTransport(nil, httpmw.WithRegistry(reg))
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, reg
}

func TestTransportHedgesASlowGet(t *testing.T) {
	srv := newSlowFirst(t)
	client, reg := hedgedClient(t, core.Policy{Name: "h", Hedge: &core.HedgePolicy{Delay: core.Duration(20 * time.Millisecond)}})

	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body) // the winner's body outlives the hedging
	resp.Body.Close()
	if string(body) != "hit 2" {
		t.Fatalf("GET answered %q; want the hedge's answer, hit 2", body)
	}
	if got := srv.methodHits("GET"); got != 2 {
		t.Errorf("the server saw %d GETs; want 2", got)
	}
	g, _ := reg.Lookup(strings.TrimPrefix(srv.URL, "http://"))
	if s := g.Snapshot().Hedge; s.Started != 1 || s.Won != 1 || s.Cancelled != 1 {
		t.Errorf("hedge stats %+v; want one started, won, one loser cancelled", s)
	}
	select { // the loser's request was cancelled
	case <-srv.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the losing request was not cancelled")
	}
}

func TestTransportHedgeOfAPutSendsTheWholeBody(t *testing.T) {
	srv := newSlowFirst(t)
	client, _ := hedgedClient(t, core.Policy{Name: "h", Hedge: &core.HedgePolicy{Delay: core.Duration(20 * time.Millisecond)}})
	req, err := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("the payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	<-srv.cancelled
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if string(body) != "hit 2" || srv.byMethod["PUT"] != 2 {
		t.Fatalf("PUT answered %q after %d PUTs; want the hedge's answer after 2", body, srv.byMethod["PUT"])
	}
	for i, b := range srv.bodies {
		if b != "the payload" {
			t.Errorf("attempt %d sent %q; want the whole body", i+1, b)
		}
	}
}

func TestTransportNeverHedgesAPost(t *testing.T) {
	srv := newSlowFirst(t)
	// A delay of a microsecond: any hedge would start at once.
	client, reg := hedgedClient(t, core.Policy{Name: "h", Hedge: &core.HedgePolicy{Delay: core.Duration(time.Microsecond)}})
	done := make(chan string)
	go func() {
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("order"))
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	for srv.methodHits("POST") == 0 {
		time.Sleep(time.Millisecond)
	}
	close(srv.release)
	if body := <-done; body != "hit 1" {
		t.Fatalf("POST answered %q; want hit 1", body)
	}
	g, _ := reg.Lookup(strings.TrimPrefix(srv.URL, "http://"))
	if got, s := srv.methodHits("POST"), g.Snapshot().Hedge; got != 1 || s.Calls != 0 || s.Started != 0 {
		t.Errorf("the server saw %d POSTs, hedge stats %+v; want 1 POST that never reached the hedger", got, s)
	}
}

// staleServer answers "v<n>" to GETs until it is told to fail, then 503.
type staleServer struct {
	*httptest.Server
	failing atomic.Bool
	hits    atomic.Int64
}

func newStaleServer(t *testing.T) *staleServer {
	f := &staleServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.hits.Add(1)
		if f.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "v"+strconv.FormatInt(n, 10))
	}))
	t.Cleanup(f.Close)
	return f
}

func getBody(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestTransportCachedFallbackAnswersStaleWithWarningAndAge(t *testing.T) {
	f := newStaleServer(t)
	client, reg := hedgedClient(t, core.Policy{Name: "c", Cache: &core.CachePolicy{MaxStaleness: core.Duration(time.Hour), MaxEntries: 10}})
	if resp, body := getBody(t, client, f.URL+"/price"); body != "v1" || resp.Header.Get("Warning") != "" {
		t.Fatalf("fresh: %q, Warning %q", body, resp.Header.Get("Warning"))
	}
	f.failing.Store(true)
	resp, body := getBody(t, client, f.URL+"/price")
	if resp.StatusCode != http.StatusOK || body != "v1" || resp.Header.Get("Warning") != httpmw.StaleWarning || resp.Header.Get("Age") != "0" ||
		resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("failing: %d %q, header %v; want the stale v1 with Warning and Age", resp.StatusCode, body, resp.Header)
	}
	// Another URL has no good answer: the 503 itself.
	if resp, _ := getBody(t, client, f.URL+"/other"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("unknown URL: %d; want the 503", resp.StatusCode)
	}
	// A POST is never answered from the cache.
	presp, err := client.Post(f.URL+"/price", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST: %d; want the 503", presp.StatusCode)
	}
	g, _ := reg.Lookup(strings.TrimPrefix(f.URL, "http://"))
	if s := g.Snapshot().Cache; s.StaleServed != 1 || s.StaleMissing != 1 || s.Entries != 1 {
		t.Errorf("cache stats %+v", s)
	}
}

func TestTransportCachePassesNotFoundThrough(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	client, _ := hedgedClient(t, core.Policy{Name: "c", Cache: &core.CachePolicy{MaxStaleness: core.Duration(time.Hour), MaxEntries: 10}})
	if resp, body := getBody(t, client, srv.URL); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not found") {
		t.Fatalf("%d %q; want the 404 itself", resp.StatusCode, body)
	}
}
