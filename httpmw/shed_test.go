package httpmw_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/shed"
)

// overloadedShedder returns a shedder that two hour-long intervals of a
// standing queue (40ms, 20 requests served of 100: 70 sheddable, 30
// critical) have brought to shed every sheddable and default request and no
// critical one. The intervals are in the past, so the first request closes
// the second one; the third lasts an hour, past the end of the test.
func overloadedShedder(t *testing.T, cfg shed.Config) *shed.Shedder {
	t.Helper()
	cfg.Interval = time.Hour
	s, err := shed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-2*time.Hour - time.Second)
	for i := range 2 {
		at := start.Add(time.Duration(i) * time.Hour)
		for j := range 100 {
			c := shed.Sheddable
			if j >= 70 {
				c = shed.Critical
			}
			_ = s.AllowAt(at, c)
		}
		for j := range 20 {
			s.ObserveAt(at.Add(time.Second), 40*time.Millisecond+time.Duration(j))
		}
	}
	return s
}

func TestShedderHonoursCriticality(t *testing.T) {
	s := overloadedShedder(t, shed.Config{RetryAfter: 1500 * time.Millisecond})
	var seen shed.Criticality = 99
	mux := http.NewServeMux()
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		seen, _ = shed.FromContext(r.Context())
		io.WriteString(w, "done")
	})
	srv := httptest.NewServer(httpmw.Middleware(newRegistry(t), httpmw.WithShedder(s, nil))(mux))
	defer srv.Close()

	get := func(crit string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/work", nil)
		if crit != "" {
			req.Header.Set(httpmw.CriticalityHeaderName, crit)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	if resp := get("critical"); resp.StatusCode != http.StatusOK || seen != shed.Critical {
		t.Fatalf("critical request: %d, criticality in context %v; want 200, critical", resp.StatusCode, seen)
	}
	for _, crit := range []string{"sheddable", "", "default", "urgent"} {
		resp := get(crit)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%q request: %d, want 503", crit, resp.StatusCode)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "2" {
			t.Errorf("%q request: Retry-After %q, want 2 (1.5s rounded up)", crit, ra)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%q request: Content-Type %q", crit, ct)
		}
		var doc struct {
			Status int    `json:"status"`
			Guard  string `json:"guard"`
			Reason string `json:"reason"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if doc.Status != 503 || doc.Guard != "shed" || doc.Reason != "load_shed" {
			t.Errorf("%q request: problem %+v, want status 503, guard shed, reason load_shed", crit, doc)
		}
	}
	snap := s.Snapshot()
	if snap.Admitted[shed.Critical] != 60+1 || snap.Shed[shed.Sheddable] < 1 || snap.Shed[shed.Default] != 3 {
		t.Errorf("shedder counts: admitted %v, shed %v", snap.Admitted, snap.Shed)
	}
}

func TestShedderSlotsAndQueueFull(t *testing.T) {
	s, err := shed.New(shed.Config{MaxInFlight: 1, MaxQueue: 1, MaxWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	crit := func(r *http.Request) shed.Criticality { return shed.Critical }
	srv := httptest.NewServer(httpmw.Middleware(newRegistry(t), httpmw.WithShedder(s, crit))(h))
	defer srv.Close()

	done := make(chan int, 2)
	get := func() {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}
	go get()
	<-entered // the one slot is held
	go get()
	// A bounded wait for the second request to queue, not a timing assertion.
	deadline := time.Now().Add(10 * time.Second)
	for s.Snapshot().Queued != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second request never queued")
		}
		time.Sleep(time.Millisecond)
	}
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("third request with the slot held and the queue full: %d, Retry-After %q; want 503, 1",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(release)
	<-entered // the queued request got the slot when the first returned
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("held and queued requests: %d, want 200", code)
		}
	}
	if snap := s.Snapshot(); snap.Shed[shed.Critical] != 1 {
		t.Errorf("shed counts %v, want one critical (queue full)", snap.Shed)
	}
}
