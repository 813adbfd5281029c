// Package sqlitestore keeps the history of policy documents in a SQLite
// file: a policy.Store that survives restarts and that several processes may
// share.
//
// A policy.Manager keeps its versions in one:
//
//	store, err := sqlitestore.Open("/var/lib/payments/policies.db")
//	...
//	defer store.Close()
//	mgr, err := policy.NewManager(ctx, registry, store)
//
// and after a restart, NewManager makes the latest stored version live
// again, so that rollback reaches versions applied before it.
//
// It uses modernc.org/sqlite, a pure-Go SQLite, so it needs no C compiler;
// it lives in a module of its own so that the root module stays
// standard-library only.
//
// The file is opened in WAL mode (readers never wait for the writer), with
// a busy timeout (a writer waits for another's transaction instead of
// failing at once; WithBusyTimeout, default 5s) and foreign keys on. Every
// Append runs in a write transaction begun with BEGIN IMMEDIATE and numbers
// its record one more than the highest version in the file, so two Store
// values, in one process or in two, never give two records the same version
// and never leave a gap. Documents are stored as JSON text: the file can be
// read with the sqlite3 shell.
//
// The schema is versioned with PRAGMA user_version and migrated by Open. Open
// refuses, with a clear error, a path whose directory does not exist, a file
// that is not a SQLite database or is damaged (ErrCorrupt), a SQLite
// database that belongs to another program, and a history written by a newer
// version of this package.
//
// A Store is safe for concurrent use. WAL mode needs shared memory between
// the processes that open the file, so keep the file on a local file system,
// not a network share.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/policy"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrCorrupt is returned (wrapped) when the file is not a SQLite database or
// is damaged.
var ErrCorrupt = errors.New("sqlitestore: not a SQLite database, or damaged")

// schemaVersion is the user_version of the current schema; migrationSteps
// holds the step from schema i to i+1 at index i.
var schemaVersion = len(migrationSteps)

var migrationSteps = []string{
	// 0 -> 1: the history table.
	`CREATE TABLE policy_versions (
		version     INTEGER PRIMARY KEY,
		hash        TEXT NOT NULL,
		document    TEXT NOT NULL CHECK (json_valid(document)),
		source      TEXT NOT NULL DEFAULT '',
		actor       TEXT NOT NULL DEFAULT '',
		reason      TEXT NOT NULL DEFAULT '',
		rollback_of INTEGER REFERENCES policy_versions(version),
		at          TEXT NOT NULL
	) STRICT`,
}

// Store is a policy.Store in a SQLite file. Create one with Open; it is safe
// for concurrent use, and several Stores (in one process or several) may
// share a file.
type Store struct {
	db   *sql.DB
	path string
}

var _ policy.Store = (*Store)(nil)

// Option configures Open.
type Option interface {
	apply(*config)
}

type config struct {
	busyTimeout time.Duration
}

func newConfig(opts []Option) config {
	c := config{busyTimeout: 5 * time.Second}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithBusyTimeout sets how long a statement waits for another connection's
// (or process's) lock before failing with "database is locked". Default 5s;
// values below one millisecond mean one millisecond.
func WithBusyTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.busyTimeout = d })
}

// Open opens the history in the SQLite file at path, creating the file and
// its schema when they do not exist. The file's directory must exist.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := newConfig(opts)
	if path == "" {
		return nil, errors.New("sqlitestore: open: path is empty")
	}
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: want a file path, not a SQLite URI or :memory:", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sqlitestore: open %s: directory %s does not exist", path, dir)
		}
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sqlitestore: open %s: %s is not a directory", path, dir)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("sqlitestore: open %s: is a directory, want a file", path)
	}

	db, err := sql.Open("sqlite", dsn(abs, cfg))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// dsn is the driver's name for the file at abs: a file: URI (so that any
// character of the path is allowed) with the connection settings every
// connection of the pool gets.
func dsn(abs string, cfg config) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	ms := cfg.busyTimeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", ms))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	return (&url.URL{Scheme: "file", Path: p}).String() + "?" + q.Encode()
}

// init checks the file and brings its schema to schemaVersion.
func (s *Store) init(ctx context.Context) error {
	// The first connection runs the pragmas, which read the file header.
	if err := s.db.PingContext(ctx); err != nil {
		return s.wrap("open", err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.wrap("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlitestore: open %s: the file stays in journal mode %q, not WAL (a file system without shared memory?)", s.path, mode)
	}

	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return s.wrap("open", err)
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return s.wrap("open", err)
	}
	switch {
	case have > schemaVersion:
		return fmt.Errorf("sqlitestore: open %s: schema version %d was written by a newer sqlitestore (this one knows up to %d)", s.path, have, schemaVersion)
	case have == schemaVersion:
		return nil
	case have == 0:
		var others []string
		rows, err := tx.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
		if err != nil {
			return s.wrap("open", err)
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return s.wrap("open", err)
			}
			others = append(others, name)
		}
		if err := rows.Err(); err != nil {
			return s.wrap("open", err)
		}
		if len(others) > 0 {
			return fmt.Errorf("sqlitestore: open %s: a SQLite database of another program (tables %s), not a policy history", s.path, strings.Join(others, ", "))
		}
	}
	for v := have; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrationSteps[v]); err != nil {
			return s.wrap(fmt.Sprintf("migrate schema %d to %d", v, v+1), err)
		}
	}
	// PRAGMA takes no parameters; schemaVersion is our own number.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return s.wrap("open", err)
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("open", err)
	}
	return nil
}

// Append stores rec as the next version: one more than the highest version
// in the file, read and written in one write transaction. rec.Document must
// be valid JSON; a zero rec.At becomes the current time. Times are stored and
// returned in UTC.
func (s *Store) Append(ctx context.Context, rec policy.Record) (policy.Record, error) {
	if len(rec.Document) == 0 {
		return policy.Record{}, errors.New("sqlitestore: append: document is empty")
	}
	if !json.Valid(rec.Document) {
		return policy.Record{}, errors.New("sqlitestore: append: document is not valid JSON")
	}
	if rec.RollbackOf > math.MaxInt64 {
		return policy.Record{}, fmt.Errorf("sqlitestore: append: rollbackOf %d: %w", rec.RollbackOf, policy.ErrNoVersion)
	}
	if rec.At.IsZero() {
		rec.At = time.Now()
	}
	rec.At = rec.At.UTC().Round(0)
	var rollbackOf any
	if rec.RollbackOf != 0 {
		rollbackOf = int64(rec.RollbackOf)
	}

	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return policy.Record{}, s.wrap("append", err)
	}
	defer tx.Rollback()
	var next int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) + 1 FROM policy_versions").Scan(&next); err != nil {
		return policy.Record{}, s.wrap("append", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO policy_versions (version, hash, document, source, actor, reason, rollback_of, at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		next, rec.Hash, string(rec.Document), rec.Source, rec.Actor, rec.Reason, rollbackOf,
		rec.At.Format(time.RFC3339Nano))
	if err != nil {
		if isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return policy.Record{}, fmt.Errorf("sqlitestore: append: rollbackOf %d: %w", rec.RollbackOf, policy.ErrNoVersion)
		}
		return policy.Record{}, s.wrap("append", err)
	}
	if err := tx.Commit(); err != nil {
		return policy.Record{}, s.wrap("append", err)
	}
	rec.Version = uint64(next)
	rec.Document = append(json.RawMessage(nil), rec.Document...)
	return rec, nil
}

const selectRecord = `SELECT version, hash, document, source, actor, reason, COALESCE(rollback_of, 0), at FROM policy_versions`

// Get returns the record of version v, or an error wrapping
// policy.ErrNoVersion.
func (s *Store) Get(ctx context.Context, v uint64) (policy.Record, error) {
	if v == 0 || v > math.MaxInt64 {
		return policy.Record{}, fmt.Errorf("sqlitestore: version %d: %w", v, policy.ErrNoVersion)
	}
	rec, err := scanRecord(s.db.QueryRowContext(ctx, selectRecord+" WHERE version = ?", int64(v)))
	if errors.Is(err, sql.ErrNoRows) {
		return policy.Record{}, fmt.Errorf("sqlitestore: version %d: %w", v, policy.ErrNoVersion)
	}
	if err != nil {
		return policy.Record{}, s.wrap(fmt.Sprintf("get version %d", v), err)
	}
	return rec, nil
}

// List returns up to limit records, newest first (limit <= 0: all).
func (s *Store) List(ctx context.Context, limit int) ([]policy.Record, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, selectRecord+" ORDER BY version DESC LIMIT ?", limit)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	var out []policy.Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, s.wrap("list", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	return out, nil
}

// Latest returns the newest record; ok is false for an empty history.
func (s *Store) Latest(ctx context.Context) (policy.Record, bool, error) {
	rec, err := scanRecord(s.db.QueryRowContext(ctx, selectRecord+" ORDER BY version DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return policy.Record{}, false, nil
	}
	if err != nil {
		return policy.Record{}, false, s.wrap("latest", err)
	}
	return rec, true, nil
}

// Close closes the file. Records already appended stay in it.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

type scanner interface {
	Scan(dest ...any) error
}

func scanRecord(row scanner) (policy.Record, error) {
	var (
		rec        policy.Record
		version    int64
		rollbackOf int64
		doc, at    string
	)
	if err := row.Scan(&version, &rec.Hash, &doc, &rec.Source, &rec.Actor, &rec.Reason, &rollbackOf, &at); err != nil {
		return policy.Record{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return policy.Record{}, fmt.Errorf("version %d: time %q: %w", version, at, err)
	}
	rec.Version = uint64(version)
	rec.RollbackOf = uint64(rollbackOf)
	rec.Document = json.RawMessage(doc)
	rec.At = t
	return rec, nil
}

// wrap prefixes err with the operation and the path, and marks the errors
// SQLite gives for a file that is not a database, or a damaged one, with
// ErrCorrupt.
func (s *Store) wrap(op string, err error) error {
	if isCode(err, sqlite3.SQLITE_NOTADB) || isCode(err, sqlite3.SQLITE_CORRUPT) {
		return &corruptError{op: op, path: s.path, err: err}
	}
	return fmt.Errorf("sqlitestore: %s %s: %w", op, s.path, err)
}

// corruptError is an error of SQLite's that says the file is not a
// database or is damaged; it matches ErrCorrupt.
type corruptError struct {
	op, path string
	err      error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("sqlitestore: %s %s: not a SQLite database, or damaged (%v)", e.op, e.path, e.err)
}

func (e *corruptError) Unwrap() error { return e.err }

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

// isCode reports whether err is a SQLite error with the code: an extended
// code matches exactly, a primary code matches its extended codes too.
func isCode(err error, code int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	if code > 0xff {
		return se.Code() == code
	}
	return se.Code()&0xff == code
}
