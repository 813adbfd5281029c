package sqlitestore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/policy/sqlitestore"
)

// The history survives a restart: a store opened again on the same file
// continues the numbering.
func Example() {
	dir, err := os.MkdirTemp("", "policies")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.db")
	ctx := context.Background()

	store, err := sqlitestore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	first, err := store.Append(ctx, policy.Record{
		Hash:     "sha256:1f0c",
		Document: json.RawMessage(`{"policies":[{"name":"payments","extends":"preset:stripe"}]}`),
		Source:   "policies/payments.yaml",
		Reason:   "first version",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("appended version", first.Version)
	store.Close()

	// After a restart.
	store, err = sqlitestore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	again, err := store.Append(ctx, policy.Record{
		Hash:       first.Hash,
		Document:   first.Document,
		Source:     "rollback",
		RollbackOf: first.Version,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("appended version", again.Version, "rolling back to", again.RollbackOf)

	history, err := store.List(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range history {
		fmt.Printf("v%d %s %s\n", rec.Version, rec.Source, rec.Document)
	}
	// Output:
	// appended version 1
	// appended version 2 rolling back to 1
	// v2 rollback {"policies":[{"name":"payments","extends":"preset:stripe"}]}
	// v1 policies/payments.yaml {"policies":[{"name":"payments","extends":"preset:stripe"}]}
}
