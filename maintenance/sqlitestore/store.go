// Package sqlitestore keeps the maintenance windows created through the
// admin API or the CLI in a SQLite file: a maintenance.Store that survives
// restarts.
//
//	store, err := sqlitestore.Open("/var/lib/payments/maintenance.db")
//	...
//	defer store.Close()
//	sched, err := maintenance.Open(reg, maintenance.WithStore(store))
//
// It uses modernc.org/sqlite, a pure-Go SQLite (the version package
// policy/sqlitestore uses), in a module of its own so that package
// maintenance does not bring in a database. The file is opened in WAL mode
// with a busy timeout; every Save replaces the stored windows in one write
// transaction, so the file holds the old windows or the new ones. Each
// window is stored as JSON text, one row per window. The schema is
// versioned with PRAGMA user_version; Open refuses, with a clear error, a
// file that is not a SQLite database or is damaged (ErrCorrupt), a database
// of another program and a schema written by a newer version.
package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/breakerbox/breakerbox/maintenance"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrCorrupt is returned (wrapped) when the file is not a SQLite database,
// is damaged, or holds a window that is not a window.
var ErrCorrupt = errors.New("sqlitestore: not a SQLite database of maintenance windows, or damaged")

const schemaVersion = 1

const schema = `CREATE TABLE maintenance_windows (
	name   TEXT PRIMARY KEY,
	window TEXT NOT NULL CHECK (json_valid(window))
) STRICT`

// Store is a maintenance.Store in a SQLite file. Create one with Open; it
// is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

var _ maintenance.Store = (*Store)(nil)

// Open opens the windows in the SQLite file at path, creating the file and
// its schema when they do not exist. The file's directory must exist.
func Open(path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: want a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sqlitestore: open %s: directory %s does not exist", path, filepath.Dir(abs))
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: p}).String()+"?"+q.Encode())
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

func (s *Store) init(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return s.wrap("open", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
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
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").Scan(&n); err != nil {
		return s.wrap("open", err)
	}
	if n > 0 {
		return fmt.Errorf("sqlitestore: open %s: a SQLite database of another program (%d tables), not maintenance windows", s.path, n)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return s.wrap("create the schema", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return s.wrap("open", err)
	}
	return s.wrap("open", tx.Commit())
}

// Load implements maintenance.Store: the windows, by name.
func (s *Store) Load(ctx context.Context) ([]maintenance.Window, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, window FROM maintenance_windows ORDER BY name")
	if err != nil {
		return nil, s.wrap("load", err)
	}
	defer rows.Close()
	var out []maintenance.Window
	for rows.Next() {
		var name, raw string
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, s.wrap("load", err)
		}
		var w maintenance.Window
		dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&w); err != nil || w.Name != name {
			return nil, fmt.Errorf("sqlitestore: load %s: the window stored as %q is not a window (%v): %w", s.path, name, err, ErrCorrupt)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("load", err)
	}
	return out, nil
}

// Save implements maintenance.Store: ws replaces the stored windows, in one
// transaction.
func (s *Store) Save(ctx context.Context, ws []maintenance.Window) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("save", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM maintenance_windows"); err != nil {
		return s.wrap("save", err)
	}
	for _, w := range ws {
		b, err := json.Marshal(w)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO maintenance_windows (name, window) VALUES (?, ?)", w.Name, string(b)); err != nil {
			return s.wrap("save", err)
		}
	}
	return s.wrap("save", tx.Commit())
}

// Close closes the file.
func (s *Store) Close() error { return s.wrap("close", s.db.Close()) }

// wrap names the operation and the file; SQLite's "not a database" and
// "corrupt" match ErrCorrupt. It returns nil for nil.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		if c := se.Code() & 0xff; c == sqlite3.SQLITE_NOTADB || c == sqlite3.SQLITE_CORRUPT {
			return fmt.Errorf("sqlitestore: %s %s: %v: %w", op, s.path, err, ErrCorrupt)
		}
	}
	return fmt.Errorf("sqlitestore: %s %s: %w", op, s.path, err)
}
