package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator's GraphQL operations.
const (
	queryProduct = `query Product($id: ID!) {
  product(id: $id) { id name stock { available status } recommendations { id name } }
}`
	queryProducts = `{ products { id name priceCents stock { status } } }`
	mutCheckout   = `mutation Checkout($id: ID!) {
  checkout(productId: $id, quantity: 1) { id status note }
}`
)

// loadgen sends a steady stream of GraphQL operations to the gateway, as
// shoppers would: product pages, the catalogue, checkouts.
type loadgen struct {
	url    string
	rps    float64
	client *http.Client

	sent, failed, withError atomic.Int64
	stockUnknown, payLater  atomic.Int64
}

// gqlResponse is a GraphQL response as the load generator reads it.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// run sends operations until ctx ends, at most 32 at a time (ticks that
// find them all busy are skipped), and waits for those in flight.
func (l *loadgen) run(ctx context.Context) {
	if l.rps <= 0 {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 32)
	t := time.NewTicker(time.Duration(float64(time.Second) / l.rps))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			l.one(ctx)
		})
	}
}

// one sends one operation, chosen at random, and tallies its answer.
func (l *loadgen) one(ctx context.Context) {
	id := catalog[rand.IntN(len(catalog))].ID
	var query string
	switch n := rand.IntN(100); {
	case n < 50:
		query = queryProduct
	case n < 70:
		query = queryProducts
	default:
		query = mutCheckout
	}
	l.sent.Add(1)
	resp, err := postGraphQL(ctx, l.client, l.url, query, map[string]any{"id": id})
	if err != nil {
		if ctx.Err() == nil {
			l.failed.Add(1)
		}
		return
	}
	if len(resp.Errors) > 0 {
		l.withError.Add(1)
	}
	data := string(resp.Data)
	if strings.Contains(data, `"UNKNOWN"`) {
		l.stockUnknown.Add(1)
	}
	if strings.Contains(data, `"PAYMENT_PENDING"`) {
		l.payLater.Add(1)
	}
}

// report returns a line of counts since the last report, and resets them.
func (l *loadgen) report(every time.Duration) string {
	sent := l.sent.Swap(0)
	return fmt.Sprintf("load: %d operations in %v (%d unanswered, %d with errors); fallbacks: %d stock UNKNOWN, %d PAYMENT_PENDING",
		sent, every, l.failed.Swap(0), l.withError.Swap(0), l.stockUnknown.Swap(0), l.payLater.Swap(0))
}

// postGraphQL sends a GraphQL operation and decodes the response.
func postGraphQL(ctx context.Context, c *http.Client, url, query string, vars map[string]any) (*gqlResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("graphql: %s", resp.Status)
	}
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return &out, nil
}
