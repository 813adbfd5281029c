package sqlitestore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/policy/sqlitestore"
)

// BenchmarkAppend appends documents of 100 policies (about 9 KB each), one
// write transaction and one WAL commit per version.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s, err := openBench(b)
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc(100)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := s.Append(ctx, policy.Record{Hash: "h", Document: doc}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList reads the newest 100 versions of a history of 1,000.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	s, err := openBench(b)
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc(100)
	for range 1000 {
		if _, err := s.Append(ctx, policy.Record{Hash: "h", Document: doc}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		recs, err := s.List(ctx, 100)
		if err != nil || len(recs) != 100 {
			b.Fatal(len(recs), err)
		}
	}
}

func openBench(b *testing.B) (*sqlitestore.Store, error) {
	s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "history.db"))
	if err == nil {
		b.Cleanup(func() { s.Close() })
	}
	return s, err
}

func benchDoc(n int) json.RawMessage {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`{"name":"svc%d","match":["svc%d.*"],"breaker":{"failureRate":50,"openDuration":"30s"}}`, i, i))
	}
	return json.RawMessage(`{"policies":[` + strings.Join(parts, ",") + `]}`)
}
