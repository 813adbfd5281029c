package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
)

var secret = []byte("s3cr3t")

// receiver is a real HTTP webhook receiver: it verifies each request's
// signature, answers with the status its script gives, and records the
// events it accepted and every attempt's event id.
type receiver struct {
	mu       sync.Mutex
	status   func(n int, e Event) int // n counts requests, from 1
	n        int
	attempts []string // event ids, every request
	accepted []Event
	bad      []error
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, err := VerifyRequest(r, secret, time.Minute)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.n++
	if err != nil {
		rv.bad = append(rv.bad, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if r.Header.Get(EventIDHeader) != e.ID || r.Header.Get(EventTypeHeader) != string(e.Type) || r.Header.Get("Content-Type") != "application/json" {
		rv.bad = append(rv.bad, fmt.Errorf("headers %v do not match event %s %s", r.Header, e.ID, e.Type))
	}
	rv.attempts = append(rv.attempts, e.ID)
	code := http.StatusOK
	if rv.status != nil {
		code = rv.status(rv.n, e)
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if code < 300 {
		rv.accepted = append(rv.accepted, e)
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte("answer body"))
}

func (rv *receiver) snapshot() (accepted []Event, attempts []string, bad []error) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]Event(nil), rv.accepted...), append([]string(nil), rv.attempts...), append([]error(nil), rv.bad...)
}

// fastRetries keeps real-time tests short: 3 attempts, milliseconds apart.
var fastRetries = Retries(retry.Config{MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})

// webhookSetup starts a receiver and a notifier posting to it.
func webhookSetup(t *testing.T, rv *receiver, opts ...Option) (*core.Registry, *Notifier, *deadLetters) {
	t.Helper()
	srv := httptest.NewServer(rv)
	t.Cleanup(srv.Close)
	reg := newTestRegistry(t)
	dl := &deadLetters{}
	opts = append([]Option{
		WithChannel("hook", &Webhook{URL: srv.URL, Secret: secret, Header: http.Header{"X-Api-Key": {"k"}}, Client: srv.Client()}, noLimit, fastRetries),
		WithDeadLetters(dl),
	}, opts...)
	n, err := New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return reg, n, dl
}

// drain closes n, waiting for every queued delivery.
func drain(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestWebhookSignedAndRetriedOn500(t *testing.T) {
	rv := &receiver{status: func(n int, _ Event) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}}
	reg, n, dl := webhookSetup(t, rv)
	reg.MustGuard("payments").ForceOpen(breaker.Manual{Actor: "alice", Reason: "provider maintenance"})
	drain(t, n)

	accepted, attempts, bad := rv.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver refused requests: %v", bad)
	}
	if len(attempts) != 3 || attempts[0] != attempts[1] || attempts[1] != attempts[2] {
		t.Fatalf("attempts %v: want the same event id three times", attempts)
	}
	if len(accepted) != 1 {
		t.Fatalf("accepted %d events", len(accepted))
	}
	e := accepted[0]
	if e.Type != ForcedOpen || e.Guard != "payments" || e.Actor != "alice" || e.Reason != "provider maintenance" ||
		e.From != breaker.Closed || e.To != breaker.ForcedOpen || e.Version != SchemaVersion || e.IncidentID == "" {
		t.Errorf("event %+v", e)
	}
	if d := dl.all(); len(d) != 0 {
		t.Errorf("dead letters %+v", d)
	}
	if s := n.Stats().Channels[0]; s.Attempts != 3 || s.Retries != 2 || s.Delivered != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestWebhookDeadLetterAfterLastRetry(t *testing.T) {
	rv := &receiver{status: func(int, Event) int { return http.StatusBadGateway }}
	reg, n, dl := webhookSetup(t, rv)
	reg.MustGuard("search").ForceOpen(breaker.Manual{})
	drain(t, n)

	_, attempts, _ := rv.snapshot()
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(attempts))
	}
	ds := dl.all()
	if len(ds) != 1 {
		t.Fatalf("dead letters %+v", ds)
	}
	d := ds[0]
	var he *HTTPError
	if !errors.As(d.Err, &he) || he.StatusCode != http.StatusBadGateway || he.Body != "answer body" || d.Attempts != 3 || d.Channel != "hook" || d.Event.Guard != "search" {
		t.Fatalf("dead letter %+v", d)
	}
	// The record encodes as JSON with the full event, for replay.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Channel  string
		Event    Event
		Attempts int
		Error    string
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Event.ID != d.Event.ID || back.Error != "notify: HTTP 502: answer body" || back.Attempts != 3 {
		t.Errorf("dead letter JSON %s", b)
	}
}

func TestWebhookPermanentAndRetryAfter(t *testing.T) {
	rv := &receiver{status: func(n int, e Event) int {
		switch {
		case e.Guard == "gone":
			return http.StatusGone
		case n%2 == 1:
			return http.StatusTooManyRequests // Retry-After: 1, capped by MaxDelay
		}
		return http.StatusOK
	}}
	reg, n, dl := webhookSetup(t, rv)
	reg.MustGuard("gone").ForceOpen(breaker.Manual{})
	reg.MustGuard("busy").ForceOpen(breaker.Manual{})
	drain(t, n)
	ds := dl.all()
	if len(ds) != 1 || ds[0].Event.Guard != "gone" || ds[0].Attempts != 1 || !IsPermanent(ds[0].Err) {
		t.Fatalf("dead letters %+v", ds)
	}
	accepted, _, _ := rv.snapshot()
	if len(accepted) != 1 || accepted[0].Guard != "busy" {
		t.Fatalf("accepted %+v", accepted)
	}
}

// TestWebhookDeduplicatesFlappingBreaker drives a real breaker with
// explicit times: its probes fail three times before one succeeds. The
// receiver hears one opened and one resolved.
func TestWebhookDeduplicatesFlappingBreaker(t *testing.T) {
	rv := &receiver{}
	reg, n, _ := webhookSetup(t, rv)
	b := reg.MustGuard("flappy").Breaker()
	now := time.Now()
	call := func(err error) {
		p, aerr := b.AllowAt(context.Background(), now)
		if aerr != nil {
			t.Fatalf("rejected at %v: %v", now, aerr)
		}
		p.DoneAt(now, err)
	}
	call(errDown)
	call(errDown) // opens for 10s
	open := 10 * time.Second
	for range 3 {
		now = now.Add(open + time.Millisecond)
		call(errDown) // half-open, probe fails: reopens for twice as long
		open *= 2
	}
	now = now.Add(open + time.Millisecond)
	call(nil) // probe succeeds: closed
	if st := b.State(); st != breaker.Closed {
		t.Fatalf("state %v", st)
	}
	drain(t, n)
	accepted, _, bad := rv.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	var kinds []string
	for _, e := range accepted {
		kinds = append(kinds, string(e.Type))
	}
	if got := strings.Join(kinds, " "); got != "opened resolved" {
		t.Fatalf("receiver got %q, want opened resolved", got)
	}
	if r := accepted[1]; r.Suppressed != 3 || time.Duration(r.IncidentDuration) < 150*time.Second {
		t.Errorf("resolved: suppressed %d (want 3: the reopens; half-open is not selected), duration %v", r.Suppressed, time.Duration(r.IncidentDuration))
	}
	if s := n.Stats(); s.Suppressed != 3 || s.Events != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestWebhookOrderPerGuard: with failing first attempts forcing retries,
// each guard's events still arrive in order, in increasing Sequence.
func TestWebhookOrderPerGuard(t *testing.T) {
	rv := &receiver{status: func(n int, _ Event) int {
		if n%3 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	reg, n, dl := webhookSetup(t, rv)
	const cycles = 5
	guards := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for _, name := range guards {
		g := reg.MustGuard(name)
		wg.Go(func() {
			for range cycles {
				g.ForceOpen(breaker.Manual{})
				g.Release(breaker.Manual{})
			}
		})
	}
	wg.Wait()
	drain(t, n)
	if d := dl.all(); len(d) != 0 {
		t.Fatalf("dead letters %+v", d)
	}
	accepted, _, _ := rv.snapshot()
	if len(accepted) != len(guards)*cycles*2 {
		t.Fatalf("accepted %d events, want %d", len(accepted), len(guards)*cycles*2)
	}
	last := map[string]Event{}
	for _, e := range accepted {
		prev, seen := last[e.Guard]
		want := ForcedOpen
		if seen && prev.Type == ForcedOpen {
			want = Resolved
		}
		if e.Type != want {
			t.Fatalf("guard %s: %s after %s", e.Guard, e.Type, prev.Type)
		}
		if seen && e.Sequence <= prev.Sequence {
			t.Fatalf("guard %s: sequence %d after %d", e.Guard, e.Sequence, prev.Sequence)
		}
		if e.Type == Resolved && e.IncidentID != prev.IncidentID {
			t.Fatalf("guard %s: resolved incident %s, opened %s", e.Guard, e.IncidentID, prev.IncidentID)
		}
		last[e.Guard] = e
	}
}

func TestWebhookPayloadSchema(t *testing.T) {
	rate := 62.5
	e := Event{
		Version: 1, ID: "e1", Type: Resolved, Sequence: 7, Rule: "oncall", Guard: "payments", Tags: []string{"stripe"},
		From: breaker.HalfOpen, To: breaker.Closed, Reason: "probe succeeded", At: t0,
		FailureRate: &rate, IncidentID: "i1", IncidentStart: t0.Add(-90 * time.Second),
		IncidentDuration: core.Duration(90 * time.Second), Suppressed: 2, DashboardURL: "https://d/?guard=payments",
	}
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"id":"e1","type":"resolved","sequence":7,"rule":"oncall","guard":"payments","tags":["stripe"],` +
		`"from":"half-open","to":"closed","reason":"probe succeeded","at":"2026-01-02T03:04:05Z","failureRate":62.5,` +
		`"incidentId":"i1","incidentStart":"2026-01-02T03:02:35Z","incidentDuration":"1m30s","suppressed":2,"dashboardUrl":"https://d/?guard=payments"}`
	if string(b) != want {
		t.Errorf("payload\n got %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.To != breaker.Closed || time.Duration(back.IncidentDuration) != 90*time.Second || *back.FailureRate != rate {
		t.Errorf("round trip %+v", back)
	}
	// Optional fields are left out.
	min, _ := json.Marshal(&Event{Version: 1, ID: "e2", Type: Opened, Guard: "g", To: breaker.Open, At: t0})
	if strings.Contains(string(min), "openUntil") || strings.Contains(string(min), "incidentStart") || strings.Contains(string(min), "failureRate") {
		t.Errorf("minimal payload %s", min)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"version":1}`)
	now := time.Unix(1_700_000_000, 0)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") || len(h) != len("t=1700000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"ok", secret, h, body, now, nil},
		{"ok within tolerance", secret, h, body, now.Add(4 * time.Minute), nil},
		{"ok slightly in the future", secret, h, body, now.Add(-time.Minute), nil},
		{"rotated secrets", secret, Sign([]byte("old"), now, body) + "," + h[strings.Index(h, "v1="):], body, now, nil},
		{"spaces", secret, strings.ReplaceAll(h, ",", ", "), body, now, nil},
		{"stale", secret, h, body, now.Add(6 * time.Minute), ErrStaleSignature},
		{"future", secret, h, body, now.Add(-6 * time.Minute), ErrStaleSignature},
		{"tampered body", secret, h, []byte(`{"version":2}`), now, ErrBadSignature},
		{"wrong secret", []byte("nope"), h, body, now, ErrBadSignature},
		{"tampered time", secret, strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, now, ErrBadSignature},
		{"empty", secret, "", body, now, ErrNoSignature},
		{"no v1", secret, "t=1700000000", body, now, ErrNoSignature},
		{"no t", secret, h[strings.Index(h, "v1="):], body, now, ErrNoSignature},
		{"bad t", secret, "t=abc," + h[strings.Index(h, "v1="):], body, now, ErrNoSignature},
		{"unknown scheme only", secret, "t=1700000000,v0=abc", body, now, ErrNoSignature},
	}
	for _, tt := range tests {
		err := VerifyAt(tt.at, tt.secret, tt.header, tt.body, 0)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: VerifyAt = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := VerifyAt(now.Add(time.Hour), secret, h, body, 2*time.Hour); err != nil {
		t.Errorf("custom tolerance: %v", err)
	}
}

func TestVerifyRequest(t *testing.T) {
	body, _ := json.Marshal(&Event{Version: 2, ID: "x"})
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	r.Header.Set(SignatureHeader, Sign(secret, time.Now(), body))
	if _, err := VerifyRequest(r, secret, 0); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("future version: %v", err)
	}
	big := strings.Repeat("x", MaxBodySize+1)
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
	if _, err := VerifyRequest(r, secret, 0); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("big body: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("not json"))
	r.Header.Set(SignatureHeader, Sign(secret, time.Now(), []byte("not json")))
	if _, err := VerifyRequest(r, secret, 0); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("bad json: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:30 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// FuzzVerify holds Verify against the definition: a header made by Sign
// with the same secret, body and a time within tolerance verifies; any
// change to the body does not; and no input panics.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("k"), []byte(`{"a":1}`), "t=1,v1=00", int64(1_700_000_000))
	f.Add([]byte(""), []byte(""), ",,=,t=,v1=", int64(0))
	f.Fuzz(func(t *testing.T, key, body []byte, header string, unix int64) {
		now := time.Unix(unix%(1<<40), 0)
		if len(key) == 0 {
			if err := VerifyAt(now, key, Sign(key, now, body), body, 0); !errors.Is(err, ErrEmptySecret) {
				t.Fatalf("empty secret: %v", err)
			}
			return
		}
		_ = VerifyAt(now, key, header, body, 0) // must not panic
		h := Sign(key, now, body)
		if err := VerifyAt(now, key, h, body, 0); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		if err := VerifyAt(now, key, h, append(body, 'x'), 0); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("changed body: %v", err)
		}
	})
}

// TestVerifyRefusesEmptySecret pins issue 16 (9): Verify accepted an empty
// secret, under which anyone can sign anything.
func TestVerifyRefusesEmptySecret(t *testing.T) {
	body := []byte(`{"version":1,"id":"forged"}`)
	now := time.Now()
	for _, s := range [][]byte{nil, {}} {
		h := Sign(s, now, body)
		if err := Verify(s, h, body, 0); !errors.Is(err, ErrEmptySecret) {
			t.Errorf("Verify(%q) = %v, want ErrEmptySecret", s, err)
		}
		if err := VerifyAt(now, s, h, body, 0); !errors.Is(err, ErrEmptySecret) {
			t.Errorf("VerifyAt(%q) = %v, want ErrEmptySecret", s, err)
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set(SignatureHeader, h)
		if _, err := VerifyRequest(r, s, 0); !errors.Is(err, ErrEmptySecret) {
			t.Errorf("VerifyRequest(%q) = %v, want ErrEmptySecret", s, err)
		}
	}
}

// TestWebhookRefusesEmptySecret: a Webhook without a secret, used as a
// Channel directly (New refuses it too), sends nothing and fails
// permanently with an error naming the field.
func TestWebhookRefusesEmptySecret(t *testing.T) {
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	err := (&Webhook{URL: srv.URL}).Send(context.Background(), sampleEvent())
	if !IsPermanent(err) || !strings.Contains(err.Error(), "secret: must not be empty") {
		t.Errorf("Send = %v, want a permanent error naming the secret", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d unsigned requests sent", n)
	}
}
