package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

func docWithRate(rate float64) core.Document {
	return core.Document{Policies: []core.Policy{
		{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: rate}},
		{Name: "search", Timeout: core.Duration(time.Second)},
	}}
}

func newFileManager(t *testing.T, path string) (*policy.Manager, *core.Registry, *policy.FileStore) {
	t.Helper()
	store, err := policy.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.NewManager(context.Background(), reg, store)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg, store
}

func TestManagerApplyStoresAndMakesLive(t *testing.T) {
	m, reg, store := newFileManager(t, filepath.Join(t.TempDir(), "p.jsonl"))
	defer store.Close()
	ctx := context.Background()
	res, err := m.Apply(ctx, docWithRate(40), policy.Meta{Source: "test", Actor: "alice", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Record.Version != 1 || !slices.Equal(res.Added, []string{"payments", "search"}) {
		t.Fatalf("Apply = %+v", res)
	}
	if v, h := reg.PolicyVersion(); v != 1 || h != docWithRate(40).Hash() {
		t.Fatalf("registry runs %d %s; want 1 and the document's hash", v, h)
	}
	res, err = m.Apply(ctx, docWithRate(30), policy.Meta{Actor: "alice"})
	if err != nil || res.Record.Version != 2 || !slices.Equal(res.Changed, []string{"payments"}) || !slices.Equal(res.Unchanged, []string{"search"}) {
		t.Fatalf("second Apply = %+v, %v", res, err)
	}
	cur, ok := m.Current()
	if !ok || cur.Version != 2 || cur.Actor != "alice" {
		t.Fatalf("Current = %+v, %v", cur, ok)
	}
	p, _ := reg.Policy("payments")
	if p.Breaker.FailureRate != 30 {
		t.Fatalf("live payments failure rate = %v; want 30", p.Breaker.FailureRate)
	}
}

// A refused document keeps the last good one live and stores nothing.
func TestManagerRefusedDocumentKeepsLastGoodAndStoresNothing(t *testing.T) {
	m, reg, store := newFileManager(t, filepath.Join(t.TempDir(), "p.jsonl"))
	defer store.Close()
	ctx := context.Background()
	if _, err := m.Apply(ctx, docWithRate(40), policy.Meta{}); err != nil {
		t.Fatal(err)
	}
	bad := core.Document{Policies: []core.Policy{
		{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 140}},
		{Name: "payments"},
		{Name: "x", Extends: "nowhere"},
	}}
	_, err := m.Apply(ctx, bad, policy.Meta{})
	var de *core.DocumentError
	if !errors.As(err, &de) || len(de.Problems) < 3 {
		t.Fatalf("Apply of a bad document: %v; want a DocumentError listing every problem", err)
	}
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("live version %d after a refused document; want 1", v)
	}
	if h, _ := m.History(ctx, 0); len(h) != 1 {
		t.Fatalf("history holds %d versions after a refused document; want 1", len(h))
	}
	if cur, _ := m.Current(); cur.Version != 1 {
		t.Fatalf("Current = %d; want 1", cur.Version)
	}
}

func TestManagerRollbackIsANewVersion(t *testing.T) {
	m, reg, store := newFileManager(t, filepath.Join(t.TempDir(), "p.jsonl"))
	defer store.Close()
	ctx := context.Background()
	m.Apply(ctx, docWithRate(40), policy.Meta{})
	m.Apply(ctx, docWithRate(30), policy.Meta{})
	res, err := m.Rollback(ctx, 1, policy.Meta{Actor: "bob", Reason: "30% trips too often"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Record
	if r.Version != 3 || r.RollbackOf != 1 || r.Source != "rollback" || r.Hash != docWithRate(40).Hash() || !slices.Equal(res.Changed, []string{"payments"}) {
		t.Fatalf("Rollback = %+v", res)
	}
	if v, _ := reg.PolicyVersion(); v != 3 {
		t.Fatalf("live version %d; want 3", v)
	}
	h, _ := m.History(ctx, 0)
	if len(h) != 3 || h[2].Version != 1 || h[1].Version != 2 {
		t.Fatalf("history rewritten: %+v", h)
	}
	if _, err := m.Rollback(ctx, 42, policy.Meta{}); !errors.Is(err, policy.ErrNoVersion) {
		t.Fatalf("Rollback(42): %v; want ErrNoVersion", err)
	}
}

// Rollback across a restart: the history and the live version survive.
func TestManagerRollbackAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	m, _, store := newFileManager(t, path)
	ctx := context.Background()
	m.Apply(ctx, docWithRate(40), policy.Meta{})
	m.Apply(ctx, docWithRate(30), policy.Meta{})
	m.Rollback(ctx, 1, policy.Meta{Reason: "back"})
	before, _ := m.History(ctx, 0)
	store.Close()

	m2, reg2, store2 := newFileManager(t, path)
	defer store2.Close()
	if v, h := reg2.PolicyVersion(); v != 3 || h != docWithRate(40).Hash() {
		t.Fatalf("after restart the registry runs %d %s; want version 3 of rate 40", v, h)
	}
	if cur, ok := m2.Current(); !ok || cur.Version != 3 || cur.RollbackOf != 1 {
		t.Fatalf("Current after restart = %+v", cur)
	}
	after, _ := m2.History(ctx, 0)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("history after restart\n%v\nwant\n%v", after, before)
	}
	res, err := m2.Rollback(ctx, 2, policy.Meta{})
	if err != nil || res.Record.Version != 4 {
		t.Fatalf("rollback after restart = %+v, %v", res, err)
	}
	if p, _ := reg2.Policy("payments"); p.Breaker.FailureRate != 30 {
		t.Fatalf("payments rate %v after rolling back to 2; want 30", p.Breaker.FailureRate)
	}
}

// A crash between the store's append and the registry's apply leaves a
// stored version that never went live: the next start makes it live.
func TestManagerStartMakesStoredVersionLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	store, _ := policy.OpenFileStore(path)
	doc := docWithRate(25)
	raw, _ := json.Marshal(doc)
	store.Append(context.Background(), policy.Record{Hash: doc.Hash(), Document: raw})
	store.Close()
	_, reg, store := newFileManager(t, path)
	defer store.Close()
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("live version %d; want the stored 1", v)
	}
}

func TestManagerRefusesRegistryAheadOfStore(t *testing.T) {
	reg, _ := core.NewRegistry()
	reg.Apply(docWithRate(40))
	_, err := policy.NewManager(context.Background(), reg, policy.NewMemoryStore())
	if err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Fatalf("NewManager with a registry at version 1 and an empty store: %v", err)
	}
}

// A second Manager of a registry the first one runs finds it at the
// store's latest version and takes it as live; a registry at that number
// with another document is refused.
func TestManagerOverARegistryAlreadyAtTheStoresVersion(t *testing.T) {
	store := policy.NewMemoryStore()
	reg, _ := core.NewRegistry()
	m, _ := policy.NewManager(context.Background(), reg, store)
	m.Apply(context.Background(), docWithRate(40), policy.Meta{})
	m2, err := policy.NewManager(context.Background(), reg, store)
	if err != nil {
		t.Fatal(err)
	}
	if cur, ok := m2.Current(); !ok || cur.Version != 1 {
		t.Fatalf("Current = %+v, %v; want version 1", cur, ok)
	}
	other, _ := core.NewRegistry()
	other.Apply(docWithRate(10))
	if _, err := policy.NewManager(context.Background(), other, store); err == nil || !strings.Contains(err.Error(), "different documents") {
		t.Fatalf("NewManager over a registry at version 1 with another document: %v", err)
	}
}

func TestManagerApplyJSON(t *testing.T) {
	reg, _ := core.NewRegistry()
	m, _ := policy.NewManager(context.Background(), reg, policy.NewMemoryStore(), policy.WithMaxDocumentBytes(1<<10))
	ctx := context.Background()
	if _, err := m.ApplyJSON(ctx, []byte(`{"policies":[{"name":"a","timeout":"2s"}]}`), policy.Meta{}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		in   string
		want string
	}{
		"unknown key":   {"{\"policies\":[],\n \"polices\":[]}", "2:"},
		"syntax":        {"{\"policies\":[\n  {\"name\":}]}", "2:"},
		"wrong type":    {`{"policies":{}}`, "policies"},
		"trailing data": {`{"policies":[]} {}`, "after the document"},
		"too large":     {`{"policies":[` + strings.Repeat(" ", 2<<10) + `]}`, "larger than the limit of 1024 bytes"},
	}
	for name, c := range cases {
		_, err := m.ApplyJSON(ctx, []byte(c.in), policy.Meta{})
		var de *core.DocumentError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a DocumentError with %q", name, err, c.want)
		}
	}
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("live version %d after refused documents; want 1", v)
	}
}

func TestManagerDryRunChangesNothing(t *testing.T) {
	reg, _ := core.NewRegistry()
	store := policy.NewMemoryStore()
	m, _ := policy.NewManager(context.Background(), reg, store)
	m.Apply(context.Background(), docWithRate(40), policy.Meta{})
	next := core.Document{Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 20}}, {Name: "new"}}}
	d, err := m.DryRun(next)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Added, []string{"new"}) || !slices.Equal(d.Changed, []string{"payments"}) || !slices.Equal(d.Removed, []string{"search"}) {
		t.Fatalf("DryRun = %+v", d)
	}
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("DryRun changed the live version to %d", v)
	}
	if h, _ := m.History(context.Background(), 0); len(h) != 1 {
		t.Fatalf("DryRun stored a version")
	}
	if _, err := m.DryRun(core.Document{Policies: []core.Policy{{}}}); err == nil {
		t.Fatal("DryRun of an invalid document passed")
	}
}

// A store that fails leaves nothing live: no live version is missing from
// the history.
func TestManagerStoreFailureAppliesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	m, reg, store := newFileManager(t, path)
	m.Apply(context.Background(), docWithRate(40), policy.Meta{})
	store.Close()
	if _, err := m.Apply(context.Background(), docWithRate(10), policy.Meta{}); err == nil {
		t.Fatal("Apply with a closed store passed")
	}
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("live version %d after a failed store; want 1", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m2, reg2, store2 := newFileManager(t, filepath.Join(t.TempDir(), "q.jsonl"))
	defer store2.Close()
	if _, err := m2.Apply(ctx, docWithRate(10), policy.Meta{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context: %v", err)
	}
	if v, _ := reg2.PolicyVersion(); v != 0 {
		t.Fatalf("live version %d after a cancelled apply", v)
	}
}

// Concurrent applies through one Manager: every version is stored once,
// the live version is the newest, and stored and live agree.
func TestManagerConcurrentApplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	m, reg, store := newFileManager(t, path)
	defer store.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				doc := docWithRate(float64(1 + g*5 + i))
				if i == 2 {
					doc.Policies = append(doc.Policies, core.Policy{}) // invalid
					if _, err := m.Apply(ctx, doc, policy.Meta{}); err == nil {
						t.Error("invalid document applied")
					}
					continue
				}
				if _, err := m.Apply(ctx, doc, policy.Meta{}); err != nil {
					t.Error(err)
				}
				m.Current()
			}
		})
	}
	wg.Wait()
	h, _ := m.History(ctx, 0)
	if len(h) != 32 {
		t.Fatalf("%d versions stored; want 32", len(h))
	}
	v, hash := reg.PolicyVersion()
	cur, _ := m.Current()
	if v != 32 || cur.Version != 32 || cur.Hash != hash || h[0].Hash != hash {
		t.Fatalf("live %d %s, current %d %s, newest stored %d %s", v, hash, cur.Version, cur.Hash, h[0].Version, h[0].Hash)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 32 {
		t.Fatalf("file holds %d lines; want 32", n)
	}
}

// A registry changed behind the Manager's back: the stored version cannot
// go live; the error says so and names it, the one before stays current,
// and the next start makes the stored version live.
func TestManagerRegistryChangedBehindItsBackIsErrNotLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	m, reg, store := newFileManager(t, path)
	ctx := context.Background()
	m.Apply(ctx, docWithRate(40), policy.Meta{})
	reg.Apply(docWithRate(35)) // not through the Manager: the registry is at 2
	res, err := m.Apply(ctx, docWithRate(30), policy.Meta{})
	if !errors.Is(err, policy.ErrNotLive) || res.Record.Version != 2 || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("Apply = %+v, %v; want ErrNotLive naming version 2", res, err)
	}
	if cur, _ := m.Current(); cur.Version != 1 {
		t.Fatalf("Current = %d; want 1", cur.Version)
	}
	store.Close()
	_, reg2, store2 := newFileManager(t, path)
	defer store2.Close()
	if p, _ := reg2.Policy("payments"); p.Breaker.FailureRate != 30 {
		t.Fatalf("after restart payments rate = %v; want the stored 30", p.Breaker.FailureRate)
	}
}
