package graphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
)

// testServer is a real gqlgen server over HTTP for the test schema.
type testServer struct {
	*httptest.Server
	reg *core.Registry
}

// errNoCache is the error of the tests' default "cachedQuote" fallback.
var errNoCache = errors.New("no cached quote")

// newTestServer serves res with the @breaker directive of reg (configured
// by opts) and the extensions exts, over POST and WebSocket. It checks the
// schema with Validate first, as a server should at start-up. A
// "cachedQuote" fallback that fails with errNoCache is registered before
// opts, which may replace it.
func newTestServer(t *testing.T, reg *core.Registry, res *testserver.Resolver, opts []bbgraphql.Option, exts ...any) *testServer {
	t.Helper()
	opts = append([]bbgraphql.Option{bbgraphql.WithFallback("cachedQuote", func(context.Context, fallback.Cause) (any, error) {
		return nil, errNoCache
	})}, opts...)
	es := testserver.New(res, testserver.DirectiveRoot{Breaker: bbgraphql.Directive(reg, opts...)})
	if err := bbgraphql.Validate(es.Schema(), reg, opts...); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	srv := handler.New(es)
	srv.SetRecoverFunc(func(_ context.Context, v any) error { return fmt.Errorf("internal error: %v", v) })
	srv.AddTransport(transport.Websocket{KeepAlivePingInterval: time.Minute})
	srv.AddTransport(transport.POST{})
	for _, e := range exts {
		switch e := e.(type) {
		case *bbgraphql.FieldGuard:
			srv.Use(e)
		case *bbgraphql.OperationGuard:
			srv.Use(e)
		default:
			t.Fatalf("unknown extension %T", e)
		}
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, reg: reg}
}

// gqlResponse is a GraphQL response as a client reads it.
type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// data decodes the response's data into a map; nil for null or absent.
func (r gqlResponse) data(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if len(r.Data) > 0 {
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatalf("data %s: %v", r.Data, err)
		}
	}
	return m
}

// errorAt returns the error whose path is path (such as "quote" or
// "portfolio.value"), failing the test if there is none.
func (r gqlResponse) errorAt(t *testing.T, path string) gqlError {
	t.Helper()
	for _, e := range r.Errors {
		if joinPath(e.Path) == path {
			return e
		}
	}
	t.Fatalf("no error at %q in %+v", path, r.Errors)
	return gqlError{}
}

func joinPath(p []any) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		switch s := s.(type) {
		case string:
			b.WriteString(s)
		default:
			b.WriteString(jsonString(s))
		}
	}
	return b.String()
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// query posts query to the server, with header pairs (name, value...).
func (s *testServer) query(t *testing.T, query string, header ...string) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var r gqlResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	return r
}

// newRegistry returns a registry configured by opts, failing the test on
// error. A last policy, "any", matches every name, so that every name the
// test schema uses is known to Validate; opts' policies come first.
func newRegistry(t testing.TB, opts ...core.Option) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(append(opts, core.WithPolicies(core.Policy{Name: "any", Match: []string{"*"}}))...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// tripAfter is a breaker policy that opens after n consecutive failures and
// stays open for open.
func tripAfter(n int, open time.Duration) *core.BreakerPolicy {
	return &core.BreakerPolicy{ConsecutiveFailures: n, DisableFailureRate: true, OpenDuration: core.Duration(open), OpenBackoff: 1}
}

// waitState polls the guard's breaker until it is in want, for at most
// five seconds (a bound, not a timing assertion: the state normally comes
// within the open duration).
func waitState(t *testing.T, g *core.Guard, want breaker.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for g.Breaker().State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("guard %s: state %s, want %s", g.Name(), g.Breaker().State(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustGuard returns the registry's guard called name, failing if it does
// not exist.
func mustGuard(t *testing.T, reg *core.Registry, name string) *core.Guard {
	t.Helper()
	g, ok := reg.Lookup(name)
	if !ok {
		t.Fatalf("no guard %q", name)
	}
	return g
}
