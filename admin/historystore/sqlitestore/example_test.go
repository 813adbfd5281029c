package sqlitestore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/historystore/sqlitestore"
	"github.com/breakerbox/breakerbox/core"
)

// An admin server keeps its rollups in a SQLite file; the next process
// (here, a second server on the reopened file) serves them.
func Example() {
	dir, _ := os.MkdirTemp("", "history")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.db")
	start := time.Now().Truncate(time.Minute).Add(-10 * time.Minute)

	// The first process: 3 calls in a minute, then a restart.
	store, err := sqlitestore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	reg, _ := core.NewRegistry()
	srv, err := admin.New(reg, admin.WithHistoryStore(store))
	if err != nil {
		log.Fatal(err)
	}
	srv.SampleAt(start)
	for range 3 {
		p, _ := reg.MustGuard("payments").Allow(context.Background())
		p.Done(nil)
	}
	srv.SampleAt(start.Add(time.Minute))
	srv.Close() // writes what is queued, before store.Close
	store.Close()

	// The second process.
	store, err = sqlitestore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	reg, _ = core.NewRegistry()
	reg.MustGuard("payments")
	srv, err = admin.New(reg, admin.WithHistoryStore(store), admin.WithOpenRead())
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SampleAt(start.Add(2 * time.Minute))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	res, err := http.Get(ts.URL + "/v1/history?guard=payments&range=24h")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var h admin.History
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		log.Fatal(err)
	}
	var calls uint32
	for _, c := range h.Guards[0].Calls {
		calls += c
	}
	fmt.Println("rollups loaded:", h.Stats.Store.Loaded)
	fmt.Println("calls in the last day:", calls)
	// Output:
	// rollups loaded: 2
	// calls in the last day: 3
}
