package admin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// connWatch is an httptest server that reports its connections' closing,
// so that a test can wait for the server to let go of a client.
type connWatch struct {
	ts     *httptest.Server
	mu     sync.Mutex
	opened int
	closed int
	change chan struct{} // signalled (not closed) on every close
	sndbuf int           // if > 0, each connection's send buffer
}

func newConnWatch(t *testing.T, h http.Handler, sndbuf int) *connWatch {
	t.Helper()
	cw := &connWatch{change: make(chan struct{}, 1), sndbuf: sndbuf}
	cw.ts = httptest.NewUnstartedServer(h)
	cw.ts.Config.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			if tc, ok := c.(*net.TCPConn); ok && cw.sndbuf > 0 {
				_ = tc.SetWriteBuffer(cw.sndbuf)
			}
			cw.mu.Lock()
			cw.opened++
			cw.mu.Unlock()
		case http.StateClosed, http.StateHijacked:
			cw.mu.Lock()
			cw.closed++
			cw.mu.Unlock()
			select {
			case cw.change <- struct{}{}:
			default:
			}
		}
	}
	cw.ts.Start()
	t.Cleanup(cw.ts.Close)
	return cw
}

// waitClosed waits until at least n connections have closed (or the
// test's context ends).
func (cw *connWatch) waitClosed(t *testing.T, n int) {
	t.Helper()
	for {
		cw.mu.Lock()
		c := cw.closed
		cw.mu.Unlock()
		if c >= n {
			return
		}
		select {
		case <-cw.change:
		case <-t.Context().Done():
			t.Fatalf("%d connections closed, want %d", c, n)
		}
	}
}

// manyGuards returns a registry of n guards.
func manyGuards(t *testing.T, n int) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		reg.MustGuard(fmt.Sprintf("service-%04d.method-with-a-long-name", i), core.WithTags("team-a", "tier-1"))
	}
	return reg
}

// Bug: the stream cap was checked in the handler but counted only when
// the sampler got round to the stream, so clients connecting at once were
// all admitted. One token first takes its PerIdentity streams, and its
// next is refused with 429; then hundreds of real clients connect at
// once, with 20 tokens and anonymously: at most Max are admitted in all,
// at most PerIdentity per token (anonymous readers counting as one), and
// every other gets a problem with Retry-After. Once they leave, their
// slots are free.
func TestEventStreamCapHoldsUnderConcurrentConnects(t *testing.T) {
	const (
		clients = 200
		tokens  = 20
		max     = 10
		perID   = 3
	)
	reg := manyGuards(t, 300) // a hello of some weight, so the sampler lags
	opts := []Option{WithOpenRead(), WithLogger(slog.New(slog.DiscardHandler)), WithStreamLimits(StreamLimits{Max: max, PerIdentity: perID})}
	for i := range tokens {
		opts = append(opts, WithToken(fmt.Sprintf("reader-%02d", i), fmt.Sprintf("reader-secret-%02d-0123456789", i), Read))
	}
	s, err := New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cw := newConnWatch(t, s, 0)
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(t.Context())
	var held sync.WaitGroup // admitted clients, until cancel
	keep := func(res *http.Response) {
		held.Add(1)
		go func() { // read until the test lets go
			defer held.Done()
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}()
	}
	open := func(secret string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cw.ts.URL+"/v1/events", nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	secret0 := "reader-secret-00-0123456789"
	for range perID {
		res := open(secret0)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("reader-00's stream: %d", res.StatusCode)
		}
		keep(res)
	}
	res := open(secret0)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	(response{status: res.StatusCode, header: res.Header, body: body}).problem(t, http.StatusTooManyRequests, codeBusy)
	if res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	type result struct {
		id     string
		status int
		code   string
		retry  string
	}
	results := make(chan result, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, secret := "anonymous", ""
			if i%(tokens+1) != tokens {
				k := i % (tokens + 1)
				id, secret = fmt.Sprintf("reader-%02d", k), fmt.Sprintf("reader-secret-%02d-0123456789", k)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cw.ts.URL+"/v1/events", nil)
			if secret != "" {
				req.Header.Set("Authorization", "Bearer "+secret)
			}
			<-start
			res, err := client.Do(req)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				results <- result{id: id}
				return
			}
			r := result{id: id, status: res.StatusCode, retry: res.Header.Get("Retry-After")}
			if res.StatusCode != http.StatusOK {
				var p Problem
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if err := jsonUnmarshal(body, &p); err != nil || res.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("client %d: %d %s", i, res.StatusCode, body)
				}
				r.code = p.Code
				results <- r
				return
			}
			keep(res)
			results <- r
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	admitted := map[string]int{"reader-00": perID}
	total, refused := perID, map[int]int{}
	for r := range results {
		switch r.status {
		case http.StatusOK:
			admitted[r.id]++
			total++
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			refused[r.status]++
			if r.code != codeBusy || r.retry == "" {
				t.Errorf("%s refused with %d, code %q, Retry-After %q", r.id, r.status, r.code, r.retry)
			}
		default:
			t.Errorf("%s: status %d", r.id, r.status)
		}
	}
	t.Logf("admitted %d %v, refused %v", total, admitted, refused)
	if total > max || total == 0 {
		t.Errorf("%d streams admitted, want 1 to %d", total, max)
	}
	for id, n := range admitted {
		if n > perID {
			t.Errorf("%s holds %d streams, more than %d", id, n, perID)
		}
	}
	if n := s.sampler.slots.count(); n != total {
		t.Errorf("%d slots taken for %d admitted streams", n, total)
	}

	// The clients leave: every slot is free again.
	cancel()
	held.Wait()
	tr.CloseIdleConnections()
	cw.mu.Lock()
	opened := cw.opened
	cw.mu.Unlock()
	cw.waitClosed(t, opened)
	if n := s.sampler.slots.count(); n != 0 {
		t.Fatalf("%d slots still taken once every client left", n)
	}
}

// A client that connects and never reads holds its slot only until a
// write to it has waited WriteTimeout: the server drops it and admits the
// next client. Both ends' socket buffers are made small, so that the
// hello (about 100 KB here) fills them.
func TestEventStreamSilentClientDropped(t *testing.T) {
	reg := manyGuards(t, 500)
	s, err := New(reg, WithToken("grafana", readSecret, Read), WithToken("alice", aliceSecret, Write),
		WithLogger(slog.New(slog.DiscardHandler)),
		WithStreamLimits(StreamLimits{Max: 1, WriteTimeout: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cw := newConnWatch(t, s, 4096)

	// The silent client: a raw connection that reads the response's
	// head, then nothing more.
	conn, err := net.Dial("tcp", cw.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer %s\r\n\r\n", readSecret)
	br := bufio.NewReaderSize(conn, 16)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("silent client: %q %v", line, err)
	}

	// Its slot is taken: another client is refused.
	other := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodHead, cw.ts.URL+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+aliceSecret)
		res, err := cw.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := other(); st != http.StatusServiceUnavailable {
		t.Fatalf("with the silent client's stream open, another got %d, want 503", st)
	}
	// The server gives up on the silent client, and frees its slot.
	cw.waitClosed(t, 1)
	if st := other(); st != http.StatusOK {
		t.Fatalf("after the silent client was dropped, another got %d, want 200", st)
	}
	if n := s.sampler.slots.count(); n != 0 {
		t.Fatalf("%d slots taken", n)
	}
}

func TestWithStreamLimitsRefusesNegatives(t *testing.T) {
	for _, c := range []struct {
		l     StreamLimits
		field string
	}{
		{StreamLimits{Max: -1}, "max: -1"},
		{StreamLimits{PerIdentity: -2}, "perIdentity: -2"},
		{StreamLimits{WriteTimeout: -1}, "writeTimeout: -1ns"},
	} {
		if _, err := New(testRegistry(t), WithStreamLimits(c.l)); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: %v, want an error naming %q", c.l, err, c.field)
		}
	}
}
