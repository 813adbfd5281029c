package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
)

// Product is an item of the storefront's catalogue.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"priceCents"`
}

// catalog is the storefront's catalogue, served by the HTTP API; the fakes
// know it too.
var catalog = []Product{
	{"p1", "Espresso machine", 34900},
	{"p2", "Burr grinder", 12900},
	{"p3", "Milk jug", 1900},
	{"p4", "Tamper", 2900},
	{"p5", "Coffee beans, 1 kg", 2400},
	{"p6", "Descaler", 900},
}

// initialStock is what the inventory service starts with, per product.
var initialStock = map[string]int32{"p1": 7, "p2": 0, "p3": 42, "p4": 13, "p5": 120, "p6": 64}

// related is what the recommendations fake answers for each product.
var related = map[string][]string{
	"p1": {"p2", "p3", "p5"},
	"p2": {"p5", "p1"},
	"p3": {"p1", "p4"},
	"p4": {"p1", "p3"},
	"p5": {"p2", "p6"},
	"p6": {"p1", "p5"},
}

func findProduct(id string) (Product, bool) {
	i := slices.IndexFunc(catalog, func(p Product) bool { return p.ID == id })
	if i < 0 {
		return Product{}, false
	}
	return catalog[i], true
}

// fakesHandler serves the HTTP downstream fakes, each misbehaving as its
// fault says:
//
//	POST /payments/charge            {"orderId": "...", "amountCents": 100} -> {"receipt": "..."}
//	GET  /recommendations/{id}       -> [Product, ...]
func fakesHandler(faults *Faults) http.Handler {
	var receipts atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payments/charge", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			OrderID     string `json:"orderId"`
			AmountCents int    `json:"amountCents"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.AmountCents <= 0 {
			writeError(w, http.StatusBadRequest, "payments: want {\"orderId\": ..., \"amountCents\": > 0}")
			return
		}
		if err := faults.Inject(r.Context(), fakePayments); err != nil {
			failFake(w, fakePayments, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{
			"receipt": fmt.Sprintf("rcpt_%06d", receipts.Add(1)),
			"orderId": req.OrderID,
		})
	})
	mux.HandleFunc("GET /recommendations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := faults.Inject(r.Context(), fakeRecommendations); err != nil {
			failFake(w, fakeRecommendations, err)
			return
		}
		out := []Product{}
		for _, id := range related[r.PathValue("id")] {
			if p, ok := findProduct(id); ok {
				out = append(out, p)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

// failFake answers a fake's injected failure: 503 for an outage, 500 for a
// random failure; nothing when the client has gone.
func failFake(w http.ResponseWriter, name string, err error) {
	switch {
	case errors.Is(err, errOutage):
		writeError(w, http.StatusServiceUnavailable, name+": outage")
	case errors.Is(err, errInjected):
		writeError(w, http.StatusInternalServerError, name+": injected failure")
	}
}
