package graphql_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// onePerHour is a per-client limit of one operation, refilled after an
// hour: the second operation of a client is always rejected.
func onePerHour(t *testing.T) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 1, Precise: true}})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOperationsRateLimitPerClient(t *testing.T) {
	var rejected []error
	var mu sync.Mutex
	ops := bbgraphql.Operations(
		bbgraphql.LimitPerClient(onePerHour(t), bbgraphql.HeaderKey("X-Api-Key")),
		bbgraphql.OnReject(func(_ context.Context, err error) {
			mu.Lock()
			rejected = append(rejected, err)
			mu.Unlock()
		}),
	)
	s := newTestServer(t, newRegistry(t), &testserver.Resolver{}, nil, ops)

	if r := s.query(t, `{ hello }`, "X-Api-Key", "alice"); len(r.Errors) != 0 {
		t.Fatalf("first operation: %v", r.Errors)
	}
	r := s.query(t, `{ hello }`, "X-Api-Key", "alice")
	if len(r.Errors) != 1 || string(r.Data) != "null" {
		t.Fatalf("second operation: data %s errors %v; want null data and one error", r.Data, r.Errors)
	}
	e := r.Errors[0]
	if e.Extensions["code"] != bbgraphql.CodeRateLimited {
		t.Fatalf("extensions %v", e.Extensions)
	}
	// One call per hour: the next one comes in about an hour.
	if ra, _ := e.Extensions["retryAfter"].(float64); ra < 3500 || ra > 3600 {
		t.Fatalf("retryAfter %v, want about 3600", e.Extensions["retryAfter"])
	}
	// Other clients have their own limit; clients without the header share
	// one.
	if r := s.query(t, `{ hello }`, "X-Api-Key", "bob"); len(r.Errors) != 0 {
		t.Fatalf("other client: %v", r.Errors)
	}
	s.query(t, `{ hello }`)
	if r := s.query(t, `{ hello }`); len(r.Errors) != 1 {
		t.Fatalf("anonymous clients share a limit: %v", r.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rejected) != 2 || !errors.Is(rejected[0], ratelimit.ErrLimited) || !errors.Is(rejected[0], core.ErrRejected) {
		t.Fatalf("OnReject saw %v", rejected)
	}
	if d, ok := core.RetryAfter(rejected[0]); !ok || d <= 0 {
		t.Fatalf("rejection carries no retry-after: %v", rejected[0])
	}
}

func TestOperationsLimitConcurrent(t *testing.T) {
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	res := &testserver.Resolver{WeatherFn: func(_ context.Context, city string) (*string, error) {
		if city == "Slow" {
			close(started)
			<-release
		}
		return &city, nil
	}}
	s := newTestServer(t, newRegistry(t), res, nil, bbgraphql.Operations(bbgraphql.LimitConcurrent(b)))

	done := make(chan gqlResponse)
	go func() { done <- s.query(t, `{ weather(city: "Slow") }`) }()
	<-started
	r := s.query(t, `{ weather(city: "Fast") }`)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != bbgraphql.CodeBulkheadFull || r.Errors[0].Extensions["retryAfter"] != float64(1) {
		t.Fatalf("while full: %s %v", r.Data, r.Errors)
	}
	close(release)
	if r := <-done; len(r.Errors) != 0 {
		t.Fatalf("slow operation: %v", r.Errors)
	}
	if r := s.query(t, `{ weather(city: "Fast") }`); len(r.Errors) != 0 {
		t.Fatalf("after the slot was released: %v", r.Errors)
	}
	if n := b.Snapshot().InUse; n != 0 {
		t.Fatalf("%d slots in use after every operation finished", n)
	}
}

func TestOperationsValidate(t *testing.T) {
	if err := bbgraphql.Operations(bbgraphql.LimitPerClient(onePerHour(t), nil)).Validate(nil); err == nil {
		t.Fatal("no error for a limit without a key")
	}
	if err := bbgraphql.Operations().Validate(nil); err != nil {
		t.Fatal(err)
	}
}

// wsMessage is a message of the graphql-transport-ws and graphql-ws
// protocols.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (m wsMessage) String() string { return m.ID + " " + m.Type + " " + string(m.Payload) }

// wsClient is a real WebSocket client speaking one of gqlgen's protocols.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	// Message types of the protocol.
	subscribe, next string
}

func dialWS(t *testing.T, s *testServer, protocol string, header http.Header) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(s.URL, "http"), header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn, subscribe: "subscribe", next: "next"}
	if protocol == "graphql-ws" {
		c.subscribe, c.next = "start", "data"
	}
	c.send(wsMessage{Type: "connection_init"})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("init answered %v", m)
	}
	return c
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next message other than a keep-alive, waiting at most
// five seconds (a bound against a hang, not a timing assertion).
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m wsMessage
		if err := c.conn.ReadJSON(&m); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if m.Type != "ka" {
			return m
		}
	}
}

func (c *wsClient) start(id, query string) {
	c.t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query})
	c.send(wsMessage{ID: id, Type: c.subscribe, Payload: payload})
}

func TestOperationsRejectSubscriptionsCleanly(t *testing.T) {
	for _, protocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(protocol, func(t *testing.T) {
			ops := bbgraphql.Operations(bbgraphql.LimitPerClient(onePerHour(t), bbgraphql.HeaderKey("X-Api-Key")))
			s := newTestServer(t, newRegistry(t), &testserver.Resolver{}, nil, ops)
			c := dialWS(t, s, protocol, http.Header{"X-Api-Key": {"alice"}})

			// The first subscription is admitted: one tick, then complete.
			c.start("1", `subscription { ticks(symbol: "ACME") { symbol } }`)
			if m := c.read(); m.ID != "1" || m.Type != c.next || !strings.Contains(string(m.Payload), `"ACME"`) {
				t.Fatalf("tick: %v", m)
			}
			if m := c.read(); m.ID != "1" || m.Type != "complete" {
				t.Fatalf("end of subscription 1: %v", m)
			}

			// The second is rejected: one error response, then complete.
			c.start("2", `subscription { ticks(symbol: "ACME") { symbol } }`)
			m := c.read()
			var resp gqlResponse
			if err := json.Unmarshal(m.Payload, &resp); err != nil || m.ID != "2" || m.Type != c.next {
				t.Fatalf("rejection: %v (%v)", m, err)
			}
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != bbgraphql.CodeRateLimited || string(resp.Data) != "null" {
				t.Fatalf("rejection payload %s", m.Payload)
			}
			if m := c.read(); m.ID != "2" || m.Type != "complete" {
				t.Fatalf("after the rejection: %v, want complete", m)
			}

			// No loop: the next message is the answer to a new operation
			// (rejected too), not another copy of the rejection.
			c.start("3", `{ hello }`)
			if m := c.read(); m.ID != "3" || m.Type != c.next {
				t.Fatalf("after complete: %v, want the answer to operation 3", m)
			}
			if m := c.read(); m.ID != "3" || m.Type != "complete" {
				t.Fatalf("end of operation 3: %v", m)
			}
		})
	}
}

func TestOperationsBulkheadSkipsSubscriptions(t *testing.T) {
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	ticks := make(chan *testserver.Quote)
	res := &testserver.Resolver{TicksFn: func(ctx context.Context, symbol string) (<-chan *testserver.Quote, error) {
		out := make(chan *testserver.Quote)
		go func() {
			defer close(out)
			for {
				select {
				case q := <-ticks:
					select {
					case out <- q:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		return out, nil
	}}
	s := newTestServer(t, newRegistry(t), res, nil, bbgraphql.Operations(bbgraphql.LimitConcurrent(b)))
	c := dialWS(t, s, "graphql-transport-ws", nil)
	c.start("1", `subscription { ticks(symbol: "ACME") { symbol } }`)
	ticks <- &testserver.Quote{Symbol: "ACME"}
	if m := c.read(); m.ID != "1" || m.Type != "next" {
		t.Fatalf("tick: %v", m)
	}
	// The live subscription holds no slot: queries still run.
	if r := s.query(t, `{ hello }`); len(r.Errors) != 0 {
		t.Fatalf("query beside a subscription: %v", r.Errors)
	}
	c.send(wsMessage{ID: "1", Type: "complete"})
}
