package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// hit is one request a recordingServer received.
type hit struct {
	path   string
	header http.Header
	body   []byte
}

// recordingServer is a real HTTP server that records every request before
// answering it with its handler (which can read the body again).
type recordingServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newRecordingServer(t *testing.T, answer http.HandlerFunc) *recordingServer {
	t.Helper()
	s := &recordingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits = append(s.hits, hit{path: r.URL.Path, header: r.Header.Clone(), body: body})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *recordingServer) requests() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

// TestWebhookAndSlackDoNotFollowRedirectsByDefault pins issue 16 (4): a
// delivery followed redirects to any host, giving it the signed body and
// the custom headers, and put the start of its answer into the error. Now
// the redirect is not followed, even by a client whose own CheckRedirect
// would, and the error reports the status only.
func TestWebhookAndSlackDoNotFollowRedirectsByDefault(t *testing.T) {
	internal := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "INTERNAL-ADMIN-PAGE", http.StatusInternalServerError)
	})
	permissive := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		front := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, internal.URL+"/admin", code)
		})
		channels := map[string]Channel{
			"webhook":                    &Webhook{URL: front.URL + "/hook", Secret: secret, Header: http.Header{"X-Api-Key": {"key-123"}}},
			"webhook, permissive client": &Webhook{URL: front.URL + "/hook", Secret: secret, Header: http.Header{"X-Api-Key": {"key-123"}}, Client: permissive},
			"slack":                      &Slack{URL: front.URL + "/services/T/B/X", Client: permissive},
		}
		for name, ch := range channels {
			err := ch.Send(context.Background(), sampleEvent())
			var he *HTTPError
			if !errors.As(err, &he) || he.StatusCode != code || he.Body != "" || !IsPermanent(err) {
				t.Errorf("%d, %s: Send = %v, want a permanent HTTPError %d with no body", code, name, err, code)
			}
			if err != nil && strings.Contains(err.Error(), "INTERNAL") {
				t.Errorf("%d, %s: the redirect target's answer is in the error: %v", code, name, err)
			}
		}
		if n := len(front.requests()); n != len(channels) {
			t.Errorf("%d: the configured server got %d requests, want %d", code, n, len(channels))
		}
	}
	if hs := internal.requests(); len(hs) != 0 {
		t.Fatalf("the redirect target got %d requests (first: %s with headers %v, body %q); want none", len(hs), hs[0].path, hs[0].header, hs[0].body)
	}
}

// TestSameOriginRedirects: with SameOriginRedirects a 307 or 308 to the same
// scheme, host and port is followed with the signed body and the headers; a
// redirect to another origin, a 302 (which would drop the body) and a loop
// longer than MaxRedirects are not.
func TestSameOriginRedirects(t *testing.T) {
	foreign := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var srv *recordingServer
	var mu sync.Mutex
	var verified []Event
	srv = newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hook":
			http.Redirect(w, r, "/v2/hook", http.StatusTemporaryRedirect)
		case "/hook308":
			http.Redirect(w, r, srv.URL+"/v2/hook", http.StatusPermanentRedirect)
		case "/moved":
			http.Redirect(w, r, "/v2/hook", http.StatusFound)
		case "/away":
			http.Redirect(w, r, foreign.URL+"/v2/hook", http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		case "/v2/hook":
			e, err := VerifyRequest(r, secret, 0)
			if err != nil || r.Header.Get("X-Api-Key") != "key-123" {
				http.Error(w, "refused", http.StatusUnauthorized)
				return
			}
			mu.Lock()
			verified = append(verified, e)
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	})
	send := func(path string) error {
		w := &Webhook{URL: srv.URL + path, Secret: secret, Header: http.Header{"X-Api-Key": {"key-123"}}, Redirects: SameOriginRedirects}
		return w.Send(context.Background(), sampleEvent())
	}

	for _, path := range []string{"/hook", "/hook308"} {
		if err := send(path); err != nil {
			t.Fatalf("%s: same-origin redirect: %v", path, err)
		}
	}
	mu.Lock()
	got := append([]Event(nil), verified...)
	mu.Unlock()
	if len(got) != 2 || got[0].ID != sampleEvent().ID {
		t.Fatalf("the redirect target verified %d events, want 2", len(got))
	}

	var he *HTTPError
	if err := send("/away"); !errors.As(err, &he) || he.StatusCode != http.StatusTemporaryRedirect || !IsPermanent(err) {
		t.Errorf("cross-origin redirect: %v, want a permanent HTTP 307", err)
	}
	if hs := foreign.requests(); len(hs) != 0 {
		t.Errorf("cross-origin target got %d requests (headers %v)", len(hs), hs[0].header)
	}

	before := len(srv.requests())
	if err := send("/moved"); !errors.As(err, &he) || he.StatusCode != http.StatusFound {
		t.Errorf("same-origin 302: %v, want HTTP 302 not followed", err)
	}
	if n := len(srv.requests()) - before; n != 1 {
		t.Errorf("same-origin 302: %d requests, want 1 (not followed)", n)
	}

	before = len(srv.requests())
	if err := send("/loop"); !errors.As(err, &he) || he.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("loop: %v, want HTTP 307 not followed", err)
	}
	if n := len(srv.requests()) - before; n != MaxRedirects+1 {
		t.Errorf("loop: %d requests, want %d (MaxRedirects redirects followed)", n, MaxRedirects+1)
	}
}
