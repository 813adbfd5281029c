// Package policy runs policy documents in production: it keeps every
// accepted document as a numbered version in a Store, applies documents to
// a core.Registry whole or not at all, rolls back by re-applying an old
// version as a new one, and describes a document in plain words.
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Record is one accepted policy document: a version in the history.
type Record struct {
	// Version is the record's number, assigned by the Store: 1 for the
	// first document, then one more than the highest before it.
	Version uint64 `json:"version"`
	// Hash is the document's content hash (core.Document.Hash).
	Hash string `json:"hash"`
	// Document is the document, encoded as JSON.
	Document json.RawMessage `json:"document"`
	// Source says where the document came from: a file path, "admin-api",
	// "fleet", "rollback".
	Source string `json:"source,omitempty"`
	// Actor and Reason are who applied it and why, for the audit log.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
	// RollbackOf is the version this one re-applies, or 0.
	RollbackOf uint64 `json:"rollbackOf,omitempty"`
	// At is when the document was accepted.
	At time.Time `json:"at"`
}

// ErrNoVersion is returned (wrapped) by Store.Get for a version the store
// does not hold.
var ErrNoVersion = errors.New("policy: no such version")

// Store keeps the history of accepted documents. Versions are never
// rewritten or reused: Append assigns the next number. Implementations are
// safe for concurrent use; several processes may share a store when the
// implementation says so (the SQLite store does).
type Store interface {
	// Append stores rec as the next version and returns it with Version
	// (and At, when zero) filled in.
	Append(ctx context.Context, rec Record) (Record, error)
	// Get returns the record of version v, or an error wrapping
	// ErrNoVersion.
	Get(ctx context.Context, v uint64) (Record, error)
	// List returns up to limit records, newest first (limit <= 0: all).
	List(ctx context.Context, limit int) ([]Record, error)
	// Latest returns the newest record; ok is false for an empty store.
	Latest(ctx context.Context) (rec Record, ok bool, err error)
	// Close releases the store's resources.
	Close() error
}
