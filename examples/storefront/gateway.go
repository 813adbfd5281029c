package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/httpmw"

	"github.com/breakerbox/breakerbox/examples/storefront/graph"
	"github.com/breakerbox/breakerbox/examples/storefront/inventorypb"
)

// gateway is the GraphQL gateway: it answers queries from the storefront
// HTTP API (catalogue, checkout), the gRPC inventory service (stock) and the
// recommendations service. Each field that calls another service carries
// the @breaker directive, which runs the call through the guard it names.
type gateway struct {
	apiURL, recsURL string
	http            *http.Client
	inventory       inventorypb.InventoryClient
	// lastCatalog is the catalogue the gateway last got from the API,
	// for the bestsellers fallback.
	lastCatalog atomic.Pointer[[]*graph.Product]
}

// handler returns the gateway's HTTP handler: POST /graphql (and GET, for
// simple queries) and, at /, a page to write and run operations
// (playground.html, embedded: it loads nothing from elsewhere, so it works
// offline).
func (gw *gateway) handler(reg *core.Registry) (http.Handler, error) {
	opts := []bbgraphql.Option{
		bbgraphql.WithFallback("stockUnknown", func(context.Context, fallback.Cause) (any, error) {
			return &graph.Stock{Status: graph.StockStatusUnknown}, nil
		}),
		bbgraphql.WithFallback("bestsellers", func(context.Context, fallback.Cause) (any, error) {
			return gw.bestsellers(), nil
		}),
	}
	cfg := graph.Config{Resolvers: gw}
	cfg.Directives.Breaker = bbgraphql.Directive(reg, opts...)
	es := graph.NewExecutableSchema(cfg)
	// A guard name or fallback misspelt in the schema fails here, at start.
	if err := bbgraphql.Validate(es.Schema(), reg, opts...); err != nil {
		return nil, err
	}
	srv := handler.New(es)
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})

	mux := http.NewServeMux()
	// Inbound requests get a guard of the "inbound" policy, as the API's do.
	mux.Handle("/graphql", httpmw.Middleware(reg, httpmw.WithPolicy("inbound"), httpmw.WithTags("graphql"))(srv))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(playgroundPage)
	})
	return mux, nil
}

// Query returns the query resolvers.
func (gw *gateway) Query() graph.QueryResolver { return queryResolver{gw} }

// Mutation returns the mutation resolvers.
func (gw *gateway) Mutation() graph.MutationResolver { return mutationResolver{gw} }

// Product returns the product resolvers.
func (gw *gateway) Product() graph.ProductResolver { return productResolver{gw} }

type queryResolver struct{ gw *gateway }

func (q queryResolver) Products(ctx context.Context) ([]*graph.Product, error) {
	var ps []*graph.Product
	if err := q.gw.call(ctx, http.MethodGet, q.gw.apiURL+"/api/products", nil, &ps); err != nil {
		return nil, err
	}
	q.gw.lastCatalog.Store(&ps)
	return ps, nil
}

func (q queryResolver) Product(ctx context.Context, id string) (*graph.Product, error) {
	var p graph.Product
	err := q.gw.call(ctx, http.MethodGet, q.gw.apiURL+"/api/products/"+url.PathEscape(id), nil, &p)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

type mutationResolver struct{ gw *gateway }

func (m mutationResolver) Checkout(ctx context.Context, productID string, quantity int) (*graph.Order, error) {
	var o graph.Order
	in := map[string]any{"productId": productID, "quantity": quantity}
	if err := m.gw.call(ctx, http.MethodPost, m.gw.apiURL+"/api/checkout", in, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

type productResolver struct{ gw *gateway }

func (p productResolver) Stock(ctx context.Context, obj *graph.Product) (*graph.Stock, error) {
	s, err := p.gw.inventory.GetStock(ctx, &inventorypb.GetStockRequest{ProductId: obj.ID})
	if status.Code(err) == codes.NotFound {
		return &graph.Stock{Status: graph.StockStatusUnknown}, nil
	}
	if err != nil {
		return nil, err
	}
	n := int(s.GetAvailable())
	st := graph.StockStatusInStock
	if n == 0 {
		st = graph.StockStatusOutOfStock
	}
	return &graph.Stock{Available: &n, Status: st}, nil
}

func (p productResolver) Recommendations(ctx context.Context, obj *graph.Product) ([]*graph.Product, error) {
	var ps []*graph.Product
	if err := p.gw.call(ctx, http.MethodGet, p.gw.recsURL+"/recommendations/"+url.PathEscape(obj.ID), nil, &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// bestsellers is the fallback of Product.recommendations: the first
// products of the catalogue the gateway last saw.
func (gw *gateway) bestsellers() []*graph.Product {
	ps := gw.lastCatalog.Load()
	if ps == nil {
		return []*graph.Product{}
	}
	return (*ps)[:min(3, len(*ps))]
}

var errNotFound = errors.New("not found")

// playgroundPage is the page at the gateway's /: a form that posts
// operations to /graphql.
//
//go:embed playground.html
var playgroundPage []byte

// call sends a JSON request and decodes a 2xx answer into out. A 404 is
// errNotFound; any other status is an error naming it.
func (gw *gateway) call(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := gw.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode/100 != 2:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
