package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/httpmw"
)

// api is the storefront's HTTP API:
//
//	GET  /api/products        the catalogue
//	GET  /api/products/{id}   one product
//	POST /api/checkout        {"productId": "p1", "quantity": 1} -> an order
//
// Checkout charges the payment provider through an httpmw Transport, whose
// guard "payments" opens when payments fails. While payments fails or its
// breaker rejects, checkout still takes the order: a fallback queues the
// payment and the order is PAYMENT_PENDING.
type api struct {
	paymentsURL string
	payments    *http.Client
	queue       *fallback.Chain
	orders      atomic.Int64
	// Queued counts payments the fallback queued.
	queued atomic.Int64
}

// Order is the answer of POST /api/checkout.
type Order struct {
	ID         string `json:"id"`
	ProductID  string `json:"productId"`
	Quantity   int    `json:"quantity"`
	TotalCents int    `json:"totalCents"`
	// Status is PAID or PAYMENT_PENDING.
	Status  string `json:"status"`
	Receipt string `json:"receipt,omitempty"`
	// Note says why the payment is pending.
	Note string `json:"note,omitempty"`
}

// newAPI returns the HTTP API, calling payments at paymentsURL through base.
func newAPI(reg *core.Registry, paymentsURL string, base http.RoundTripper) (*api, error) {
	// Charges carry an Idempotency-Key, so the transport may retry them:
	// once, within a budget shared by every charge.
	budget, err := retry.NewBudget(retry.BudgetConfig{})
	if err != nil {
		return nil, err
	}
	retrier, err := retry.New(retry.Config{MaxAttempts: 2, InitialDelay: 50 * time.Millisecond, MaxDelay: time.Second, Budget: budget})
	if err != nil {
		return nil, err
	}
	a := &api{paymentsURL: paymentsURL}
	a.payments = &http.Client{
		Timeout: 5 * time.Second,
		Transport: httpmw.NewTransport(base,
			httpmw.WithRegistry(reg),
			httpmw.WithKey(func(*http.Request) string { return "payments" }),
			httpmw.WithRetrier(retrier)),
	}
	a.queue = fallback.NewChain(fallback.Step{Name: "queue-payment", Fn: a.queuePayment})
	return a, nil
}

// handler returns the API behind httpmw's middleware: one guard per route
// ("POST /api/checkout"), with the "inbound" policy (a bulkhead that sheds
// load, a breaker that only measures).
func (a *api) handler(reg *core.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, catalog)
	})
	mux.HandleFunc("GET /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := findProduct(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no product "+r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST /api/checkout", a.checkout)
	return httpmw.Middleware(reg, httpmw.WithPolicy("inbound"), httpmw.WithTags("api"))(mux)
}

func (a *api) checkout(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid order: "+err.Error())
		return
	}
	p, ok := findProduct(req.ProductID)
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "no product "+req.ProductID)
		return
	case req.Quantity < 1 || req.Quantity > 100:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("quantity: %d must be between 1 and 100", req.Quantity))
		return
	}
	o := Order{
		ID:         fmt.Sprintf("o%06d", a.orders.Add(1)),
		ProductID:  p.ID,
		Quantity:   req.Quantity,
		TotalCents: p.PriceCents * req.Quantity,
	}
	receipt, err := a.charge(r.Context(), o)
	if err == nil {
		o.Status, o.Receipt = "PAID", receipt
		writeJSON(w, http.StatusCreated, o)
		return
	}
	// The fallback takes the order anyway, payment pending.
	note, ferr := fallback.Typed[string](a.queue.Run(r.Context(), err))
	if ferr != nil {
		httpmw.SetError(w, ferr)
		writeError(w, http.StatusBadGateway, ferr.Error())
		return
	}
	o.Status, o.Note = "PAYMENT_PENDING", note
	writeJSON(w, http.StatusAccepted, o)
}

// charge asks payments to charge the order and returns the receipt.
func (a *api) charge(ctx context.Context, o Order) (string, error) {
	body, _ := json.Marshal(map[string]any{"orderId": o.ID, "amountCents": o.TotalCents})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.paymentsURL+"/payments/charge", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", o.ID)
	resp, err := a.payments.Do(req)
	if err != nil {
		return "", err // a rejection by the guard is a *core.RejectedError in there
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return "", &httpmw.StatusError{StatusCode: resp.StatusCode, Header: resp.Header}
	}
	var out struct {
		Receipt string `json:"receipt"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Receipt, nil
}

// queuePayment is the checkout's fallback: it queues the payment (here,
// counts it) and says why.
func (a *api) queuePayment(_ context.Context, c fallback.Cause) (any, error) {
	a.queued.Add(1)
	switch c.Kind {
	case fallback.Rejected:
		note := "payments " + core.ErrorType(c.Err)
		if d, ok := core.RetryAfter(c.Err); ok {
			note += fmt.Sprintf(", retry in %v", d.Round(100*time.Millisecond))
		}
		return note + ": payment queued", nil
	case fallback.TimedOut:
		return "payments timed out: payment queued", nil
	default:
		return "payments failed (" + c.Err.Error() + "): payment queued", nil
	}
}
