package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/breakerbox/breakerbox/policy"
)

func rec(hash string) policy.Record {
	return policy.Record{Hash: hash, Document: []byte(`{"policies":[]}`), Source: "test"}
}

// storeContract runs the Store contract against a fresh store.
func storeContract(t *testing.T, s policy.Store) {
	ctx := context.Background()
	if _, ok, err := s.Latest(ctx); ok || err != nil {
		t.Fatalf("Latest of an empty store = %v, %v; want none", ok, err)
	}
	for i, h := range []string{"h1", "h2", "h3"} {
		r, err := s.Append(ctx, rec(h))
		if err != nil {
			t.Fatal(err)
		}
		if r.Version != uint64(i+1) || r.At.IsZero() {
			t.Fatalf("Append #%d = version %d at %v; want version %d and a time", i+1, r.Version, r.At, i+1)
		}
	}
	got, err := s.Get(ctx, 2)
	if err != nil || got.Hash != "h2" || string(got.Document) != `{"policies":[]}` {
		t.Fatalf("Get(2) = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, 9); !errors.Is(err, policy.ErrNoVersion) {
		t.Fatalf("Get(9) error = %v; want ErrNoVersion", err)
	}
	list, err := s.List(ctx, 2)
	if err != nil || len(list) != 2 || list[0].Version != 3 || list[1].Version != 2 {
		t.Fatalf("List(2) = %+v, %v; want versions 3, 2", list, err)
	}
	if all, _ := s.List(ctx, 0); len(all) != 3 {
		t.Fatalf("List(0) holds %d records; want 3", len(all))
	}
	if l, ok, err := s.Latest(ctx); !ok || err != nil || l.Version != 3 {
		t.Fatalf("Latest = %d, %v, %v; want 3", l.Version, ok, err)
	}
	if _, err := s.Append(ctx, policy.Record{Hash: "x"}); err == nil || !strings.Contains(err.Error(), "document") {
		t.Fatalf("Append without a document: %v; want an error naming the document", err)
	}
}

func TestMemoryStoreContract(t *testing.T) { storeContract(t, policy.NewMemoryStore()) }

func TestFileStoreContract(t *testing.T) {
	s, err := policy.OpenFileStore(filepath.Join(t.TempDir(), "policies.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storeContract(t, s)
}

func TestFileStoreHistorySurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.jsonl")
	s, err := policy.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, h := range []string{"a", "b"} {
		if _, err := s.Append(ctx, rec(h)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = policy.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Recovered() != nil {
		t.Fatalf("Recovered = %v after a clean close", s.Recovered())
	}
	r, err := s.Append(ctx, rec("c"))
	if err != nil || r.Version != 3 {
		t.Fatalf("Append after reopen = version %d, %v; want 3", r.Version, err)
	}
}

// A crash in the middle of an append leaves a line without its newline:
// it is cut off, reported, and the next append takes its version.
func TestFileStoreTornLastLineIsCutOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.jsonl")
	s, _ := policy.OpenFileStore(path)
	ctx := context.Background()
	s.Append(ctx, rec("a"))
	s.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"version":2,"hash":"b","docu`)
	f.Close()

	s, err := policy.OpenFileStore(path)
	if err != nil {
		t.Fatalf("open with a torn last line: %v", err)
	}
	defer s.Close()
	var torn *policy.TornRecordError
	if !errors.As(s.Recovered(), &torn) || torn.Line != 2 || torn.Bytes == 0 || !strings.Contains(torn.Error(), path+":2") {
		t.Fatalf("Recovered = %v; want a TornRecordError at %s:2", s.Recovered(), path)
	}
	if r, err := s.Append(ctx, rec("b2")); err != nil || r.Version != 2 {
		t.Fatalf("Append = version %d, %v; want 2", r.Version, err)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 2 || strings.Contains(string(data), `"docu`+"\n") {
		t.Fatalf("file after repair:\n%s", data)
	}
}

func TestFileStoreDamagedLineIsAnErrorNamingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.jsonl")
	s, _ := policy.OpenFileStore(path)
	ctx := context.Background()
	s.Append(ctx, rec("a"))
	s.Append(ctx, rec("b"))
	s.Close()
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(path, []byte(lines[0]+"garbage\n"+lines[1]), 0o600)
	_, err := policy.OpenFileStore(path)
	if err == nil || !strings.Contains(err.Error(), path+":2") {
		t.Fatalf("open of a damaged file: %v; want an error naming %s:2", err, path)
	}
	// Versions out of order are damage too.
	os.WriteFile(path, []byte(lines[1]+lines[0]), 0o600)
	if _, err := policy.OpenFileStore(path); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("open with versions out of order: %v", err)
	}
}

func TestFileStoreRefusesAFileAnotherProcessWrote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.jsonl")
	a, _ := policy.OpenFileStore(path)
	defer a.Close()
	b, _ := policy.OpenFileStore(path)
	defer b.Close()
	ctx := context.Background()
	if _, err := a.Append(ctx, rec("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, rec("b")); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second writer's Append: %v; want a refusal", err)
	}
}

func TestFileStoreConcurrentAppendsNumberEveryVersionOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.jsonl")
	s, _ := policy.OpenFileStore(path)
	defer s.Close()
	var wg sync.WaitGroup
	seen := make(chan uint64, 40)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				r, err := s.Append(context.Background(), rec("h"))
				if err != nil {
					t.Error(err)
					return
				}
				seen <- r.Version
			}
		})
	}
	wg.Wait()
	close(seen)
	got := map[uint64]bool{}
	for v := range seen {
		if got[v] {
			t.Fatalf("version %d given twice", v)
		}
		got[v] = true
	}
	if len(got) != 40 || !got[1] || !got[40] {
		t.Fatalf("versions %v; want 1..40", got)
	}
}
