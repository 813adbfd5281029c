package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// DefaultMaxDocumentBytes is the largest document ApplyJSON accepts unless
// WithMaxDocumentBytes says otherwise: 4 MiB, room for tens of thousands of
// policies.
const DefaultMaxDocumentBytes = 4 << 20

// Meta says where a document comes from, who applies it and why; it is
// stored with the version (Record.Source, Actor, Reason).
type Meta struct {
	// Source is a file path, "admin-api", "fleet"; Rollback uses
	// "rollback" when it is empty.
	Source string
	Actor  string
	Reason string
}

// Diff is what a document changes, by policy name, against the policies
// the registry runs.
type Diff struct {
	Added, Changed, Removed, Unchanged []string
}

// Result is an applied document: its version and what it changed.
type Result struct {
	Record Record
	Diff
}

// ErrNotLive is returned (wrapped) by Apply and Rollback when a document was
// stored as a version but the registry refused it afterwards, which happens
// only when something other than the Manager changed the registry's
// policies between the Manager's check and its apply (see Manager). The
// version stays in the history, not live; the one before stays live.
var ErrNotLive = errors.New("policy: stored version is not live")

// Option configures a Manager.
type Option interface{ apply(*managerConfig) }

type managerConfig struct {
	now      func() time.Time
	maxBytes int64
}

type optionFunc func(*managerConfig)

func (f optionFunc) apply(c *managerConfig) { f(c) }

// WithClock makes the Manager time its records with now instead of
// time.Now (for tests and examples).
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *managerConfig) {
		if now != nil {
			c.now = now
		}
	})
}

// WithMaxDocumentBytes bounds the documents ApplyJSON accepts (default
// DefaultMaxDocumentBytes); a larger one is refused before it is parsed.
// n < 1 keeps the default.
func WithMaxDocumentBytes(n int64) Option {
	return optionFunc(func(c *managerConfig) {
		if n > 0 {
			c.maxBytes = n
		}
	})
}

// Manager runs a registry's policy documents: it checks each document
// whole, stores it as the next version and makes it live, all or nothing;
// it rolls back by applying an old version again as a new one; and it
// restores the latest stored version when it starts, so versions and
// rollback survive a restart.
//
// # Order and failures
//
// Apply checks the document against the registry (Registry.Check), then
// appends it to the Store, then applies it (Registry.Apply at the version
// the store gave it). So:
//
//   - a refused document is neither stored nor live; the last good one
//     stays live, and the error is a *core.DocumentError listing every
//     problem;
//   - a store that fails (disk full, database down) leaves nothing stored
//     and nothing changed: no live version is missing from the history;
//   - once stored, the document is applied whatever happens to the
//     caller's context. The apply cannot fail after a passing check unless
//     something else changed the registry's policies in between: give the
//     Manager the registry and change its policies only through it. Should
//     it fail anyway, the error wraps ErrNotLive and names the version,
//     which stays in the history; the next start (NewManager) makes the
//     latest stored version live, as it does after a crash between the
//     store and the apply.
//
// Apply and Rollback run one at a time; every method is safe for
// concurrent use.
type Manager struct {
	reg   *core.Registry
	store Store
	cfg   managerConfig

	mu   sync.Mutex             // serialises Apply and Rollback
	live atomic.Pointer[Record] // the live version; nil before the first
}

// NewManager returns a Manager of reg keeping versions in store. When the
// store holds versions, the latest is applied to reg at its own version
// number, so that a restarted process runs what it ran before; an error
// says why it could not be (a document the registry now refuses, such as
// one naming a fallback no longer registered). The registry must not run a
// version the store does not hold.
func NewManager(ctx context.Context, reg *core.Registry, store Store, opts ...Option) (*Manager, error) {
	if reg == nil {
		return nil, errors.New("policy: registry must not be nil")
	}
	if store == nil {
		return nil, errors.New("policy: store must not be nil")
	}
	m := &Manager{reg: reg, store: store, cfg: managerConfig{now: time.Now, maxBytes: DefaultMaxDocumentBytes}}
	for _, o := range opts {
		if o != nil {
			o.apply(&m.cfg)
		}
	}
	rec, ok, err := store.Latest(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: reading the latest version: %w", err)
	}
	liveV, liveHash := reg.PolicyVersion()
	if !ok {
		if liveV > 0 {
			return nil, fmt.Errorf("policy: the registry runs version %d, which the store does not hold; make the Manager before applying documents to the registry", liveV)
		}
		return m, nil
	}
	switch {
	case liveV == rec.Version && liveHash == rec.Hash: // already live
	case liveV == rec.Version:
		return nil, fmt.Errorf("policy: the registry runs version %d with hash %s, but the store's version %d has hash %s: they are different documents", liveV, liveHash, rec.Version, rec.Hash)
	case liveV > rec.Version:
		return nil, fmt.Errorf("policy: the registry runs version %d, above the store's latest version %d", liveV, rec.Version)
	default:
		doc, err := decodeStored(rec)
		if err != nil {
			return nil, err
		}
		if _, err := reg.Apply(doc, core.AtVersion(rec.Version), core.AppliedBy(rec.Actor)); err != nil {
			return nil, fmt.Errorf("policy: making the stored version %d live: %w", rec.Version, err)
		}
	}
	m.live.Store(&rec)
	return m, nil
}

// decodeStored decodes a stored record's document and checks its hash.
func decodeStored(rec Record) (core.Document, error) {
	var doc core.Document
	if err := json.Unmarshal(rec.Document, &doc); err != nil {
		return core.Document{}, fmt.Errorf("policy: version %d: decoding the stored document: %w", rec.Version, err)
	}
	if h := doc.Hash(); h != rec.Hash {
		return core.Document{}, fmt.Errorf("policy: version %d: the stored document hashes to %s, not the recorded %s (the store is damaged)", rec.Version, h, rec.Hash)
	}
	return doc, nil
}

// Registry returns the registry the Manager runs.
func (m *Manager) Registry() *core.Registry { return m.reg }

// Apply checks doc, stores it as the next version and makes it live (see
// Manager for the order). A refused document is a *core.DocumentError
// listing every problem; nothing is stored and the live version stays.
func (m *Manager) Apply(ctx context.Context, doc core.Document, meta Meta) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applyLocked(ctx, doc, meta, 0)
}

func (m *Manager) applyLocked(ctx context.Context, doc core.Document, meta Meta, rollbackOf uint64) (Result, error) {
	if err := m.reg.Check(doc); err != nil {
		return Result{}, err
	}
	raw, err := json.Marshal(doc)
	if err != nil { // cannot happen: every field encodes
		return Result{}, fmt.Errorf("policy: encoding the document: %w", err)
	}
	rec := Record{Hash: doc.Hash(), Document: raw, Source: meta.Source, Actor: meta.Actor, Reason: meta.Reason, RollbackOf: rollbackOf, At: m.cfg.now().UTC()}
	rec, err = m.store.Append(ctx, rec)
	if err != nil {
		return Result{}, fmt.Errorf("policy: storing the document (nothing applied): %w", err)
	}
	res, err := m.reg.Apply(doc, core.AtVersion(rec.Version), core.AppliedBy(meta.Actor))
	if err != nil {
		return Result{Record: rec}, fmt.Errorf("%w: version %d: %w", ErrNotLive, rec.Version, err)
	}
	m.live.Store(&rec)
	return Result{Record: cloneRecord(rec), Diff: Diff{Added: res.Added, Changed: res.Changed, Removed: res.Removed, Unchanged: res.Unchanged}}, nil
}

// ApplyJSON decodes a document from JSON and applies it (see Apply). A
// document that does not decode, or is larger than the limit of
// WithMaxDocumentBytes, is a *core.DocumentError too, with the line and
// column of the fault when there is one.
func (m *Manager) ApplyJSON(ctx context.Context, data []byte, meta Meta) (Result, error) {
	doc, err := m.DecodeJSON(data)
	if err != nil {
		return Result{}, err
	}
	return m.Apply(ctx, doc, meta)
}

// DecodeJSON decodes a document from JSON as ApplyJSON does, without
// checking or applying it. Keys are matched exactly where the document's
// own fields are concerned and unknown ones refused; a value that does not
// decode is reported with its line, column and path.
func (m *Manager) DecodeJSON(data []byte) (core.Document, error) {
	if int64(len(data)) > m.cfg.maxBytes {
		return core.Document{}, &core.DocumentError{Problems: []core.Problem{{
			Value:   strconv.Itoa(len(data)) + " bytes",
			Message: fmt.Sprintf("the document is larger than the limit of %d bytes", m.cfg.maxBytes),
		}}}
	}
	return decodeDocument(data)
}

// decodeDocument decodes a JSON document strictly (core.ParseDocument):
// every problem with its line, column, path and value.
func decodeDocument(data []byte) (core.Document, error) {
	return core.ParseDocument(data)
}

// Rollback applies version v again, as a new version whose RollbackOf is
// v: the history is never rewritten. meta.Source defaults to "rollback".
// A version the store does not hold is an error wrapping ErrNoVersion; a
// version the registry now refuses (a fallback no longer registered) is a
// *core.DocumentError, and nothing changes.
func (m *Manager) Rollback(ctx context.Context, v uint64, meta Meta) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, err := m.store.Get(ctx, v)
	if err != nil {
		return Result{}, fmt.Errorf("policy: rollback to version %d: %w", v, err)
	}
	doc, err := decodeStored(rec)
	if err != nil {
		return Result{}, err
	}
	if meta.Source == "" {
		meta.Source = "rollback"
	}
	return m.applyLocked(ctx, doc, meta, v)
}

// History returns up to limit versions, newest first (limit <= 0: all).
func (m *Manager) History(ctx context.Context, limit int) ([]Record, error) {
	return m.store.List(ctx, limit)
}

// Version returns the stored version v.
func (m *Manager) Version(ctx context.Context, v uint64) (Record, error) {
	return m.store.Get(ctx, v)
}

// Current returns the live version; ok is false before the first one.
func (m *Manager) Current() (rec Record, ok bool) {
	p := m.live.Load()
	if p == nil {
		return Record{}, false
	}
	return cloneRecord(*p), true
}

// CurrentDocument returns the live document; ok is false before the first
// version.
func (m *Manager) CurrentDocument() (doc core.Document, ok bool, err error) {
	p := m.live.Load()
	if p == nil {
		return core.Document{}, false, nil
	}
	doc, err = decodeStored(*p)
	return doc, err == nil, err
}

// DryRun checks doc and says what applying it would change against the
// policies the registry runs, by name, without storing or applying
// anything. A refused document is a *core.DocumentError.
func (m *Manager) DryRun(doc core.Document) (Diff, error) {
	if err := m.reg.Check(doc); err != nil {
		return Diff{}, err
	}
	old := map[string][]byte{}
	var order []string
	for _, p := range m.reg.Policies() {
		b, _ := json.Marshal(p)
		old[p.Name] = b
		order = append(order, p.Name)
	}
	var d Diff
	seen := map[string]bool{}
	for _, p := range doc.Policies {
		seen[p.Name] = true
		b, _ := json.Marshal(p)
		prev, ok := old[p.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, p.Name)
		case bytes.Equal(prev, b):
			d.Unchanged = append(d.Unchanged, p.Name)
		default:
			d.Changed = append(d.Changed, p.Name)
		}
	}
	for _, n := range order {
		if !seen[n] {
			d.Removed = append(d.Removed, n)
		}
	}
	return d, nil
}
