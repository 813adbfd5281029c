// Package sqlitestore keeps the admin server's rollup history (the trends
// of the dashboard) in a SQLite file, so that they continue across a
// restart: an admin.HistoryStore.
//
//	store, err := sqlitestore.Open("/var/lib/payments/history.db")
//	...
//	defer store.Close()
//	srv, err := admin.New(registry, admin.WithHistoryStore(store))
//	...
//	defer srv.Close() // before store.Close: it writes the rollups under way
//
// It is a short-term store: it keeps what the dashboard shows (the last
// LongHistory, a day) within a size cap. For a real time-series database,
// export the guards' metrics to Prometheus or OTLP (see docs/history.md).
//
// It uses modernc.org/sqlite, a pure-Go SQLite, so it needs no C compiler;
// it lives in a module of its own so that the root module stays
// standard-library only.
//
// The file is opened in WAL mode with synchronous=NORMAL: a write is one
// transaction, so a process killed in the middle of one (kill -9) leaves
// the file as it was before that write, and the next Open recovers it.
// (A power loss may also lose the last writes before it, never the file.)
// Rollups are stored one row per guard, step and start, with an index on
// the start for loads and retention.
//
// Retention: every AppendRollups deletes the rollups older than the
// maximum age (WithMaxAge, default DefaultMaxAge; rollups shorter than a
// minute are kept an hour, admin.ShortHistory, as long as the server
// shows them) and, while the file's
// pages in use exceed the maximum size (WithMaxBytes, default
// DefaultMaxBytes), the oldest rollups, down to nine tenths of it. Freed
// pages are given back to the file system (incremental auto-vacuum, at the
// WAL's next checkpoint); the WAL itself adds up to about 4 MiB between
// checkpoints.
//
// A Store is safe for concurrent use. WAL mode needs shared memory between
// the processes that open the file, so keep the file on a local file
// system, not a network share.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Defaults of the retention.
const (
	// DefaultMaxAge is how long rollups are kept unless WithMaxAge says
	// otherwise: admin.LongHistory, all the admin server shows.
	DefaultMaxAge = admin.LongHistory
	// DefaultMaxBytes bounds the file's pages in use unless WithMaxBytes
	// says otherwise: 256 MiB, a full day of about 1,500 busy guards (a
	// rollup takes about 92 bytes with a short name; see
	// BenchmarkAppendDay).
	DefaultMaxBytes = 256 << 20
	// MinMaxBytes is the smallest WithMaxBytes accepted.
	MinMaxBytes = 64 << 10
)

// ErrCorrupt is returned (wrapped) when the file is not a SQLite database or
// is damaged.
var ErrCorrupt = errors.New("sqlitestore: not a SQLite database, or damaged")

// schemaVersion is the user_version of the current schema; migrationSteps
// holds the step from schema i to i+1 at index i.
var schemaVersion = len(migrationSteps)

var migrationSteps = []string{
	// 0 -> 1: the rollups table; the UNIQUE constraint is the (guard,
	// step, start) index, rollups_start serves loads and retention by age
	// and size, rollups_step_start the retention of short rollups.
	`CREATE TABLE rollups (
		guard            TEXT    NOT NULL CHECK (guard <> ''),
		step             INTEGER NOT NULL CHECK (step > 0),
		start            INTEGER NOT NULL,
		calls            INTEGER NOT NULL,
		succeeded        INTEGER NOT NULL,
		failed           INTEGER NOT NULL,
		slow             INTEGER NOT NULL,
		rejected_open    INTEGER NOT NULL,
		rejected_full    INTEGER NOT NULL,
		rejected_limited INTEGER NOT NULL,
		severity         INTEGER NOT NULL,
		UNIQUE (guard, step, start)
	) STRICT;
	CREATE INDEX rollups_start ON rollups (start);
	CREATE INDEX rollups_step_start ON rollups (step, start)`,
}

// Store is an admin.HistoryStore in a SQLite file. Create one with Open; it
// is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	cfg  config
}

var _ admin.HistoryStore = (*Store)(nil)

// Option configures Open.
type Option interface {
	apply(*config) error
}

type config struct {
	busyTimeout time.Duration
	maxAge      time.Duration
	maxBytes    int64
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithMaxAge sets how long rollups are kept (default DefaultMaxAge);
// rollups shorter than a minute are kept at most admin.ShortHistory. It
// must be positive.
func WithMaxAge(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("sqlitestore: maxAge: %v must be positive", d)
		}
		c.maxAge = d
		return nil
	})
}

// WithMaxBytes bounds the file's pages in use (default DefaultMaxBytes);
// beyond it the oldest rollups are deleted. It must be at least
// MinMaxBytes.
func WithMaxBytes(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < MinMaxBytes {
			return fmt.Errorf("sqlitestore: maxBytes: %d is below the minimum %d", n, MinMaxBytes)
		}
		c.maxBytes = n
		return nil
	})
}

// WithBusyTimeout sets how long a statement waits for another connection's
// (or process's) lock before failing with "database is locked". Default 5s;
// values below one millisecond mean one millisecond.
func WithBusyTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		c.busyTimeout = d
		return nil
	})
}

func newConfig(opts []Option) (config, error) {
	c := config{busyTimeout: 5 * time.Second, maxAge: DefaultMaxAge, maxBytes: DefaultMaxBytes}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// Open opens the history in the SQLite file at path, creating the file and
// its schema when they do not exist. The file's directory must exist.
func Open(path string, opts ...Option) (*Store, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
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
	s := &Store{db: db, path: path, cfg: cfg}
	if err := s.init(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// dsn is the driver's name for the file at abs: a file: URI with the
// settings every connection of the pool gets. auto_vacuum comes first: it
// takes effect only on a file without tables.
func dsn(abs string, cfg config) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	ms := max(cfg.busyTimeout.Milliseconds(), 1)
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "auto_vacuum(INCREMENTAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", ms))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	return (&url.URL{Scheme: "file", Path: p}).String() + "?" + q.Encode()
}

// init checks the file and brings its schema to schemaVersion.
func (s *Store) init(ctx context.Context) error {
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
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").Scan(&n); err != nil {
			return s.wrap("open", err)
		}
		if n > 0 {
			return fmt.Errorf("sqlitestore: open %s: a SQLite database of another program (%d tables), not a rollup history", s.path, n)
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
	return s.wrap("open", tx.Commit())
}

// AppendRollups stores rs in one transaction (all or none), replacing the
// rollups of the same guard, step and start, and then applies the
// retention (see the package doc) as of the current time. A rollup with no
// guard or a step that is not a positive number of seconds is refused,
// with nothing stored.
func (s *Store) AppendRollups(ctx context.Context, rs []admin.HistoryRollup) error {
	for i := range rs {
		r := &rs[i]
		if r.Guard == "" {
			return fmt.Errorf("sqlitestore: append: rollup %d: guard is empty", i)
		}
		if r.Step < time.Second || r.Step%time.Second != 0 {
			return fmt.Errorf("sqlitestore: append: rollup %d (guard %q): step %v is not a positive number of seconds", i, r.Guard, r.Step)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return s.wrap("append", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO rollups
		(guard, step, start, calls, succeeded, failed, slow, rejected_open, rejected_full, rejected_limited, severity)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (guard, step, start) DO UPDATE SET
		calls = excluded.calls, succeeded = excluded.succeeded, failed = excluded.failed, slow = excluded.slow,
		rejected_open = excluded.rejected_open, rejected_full = excluded.rejected_full,
		rejected_limited = excluded.rejected_limited, severity = excluded.severity`)
	if err != nil {
		return s.wrap("append", err)
	}
	defer st.Close()
	for i := range rs {
		r := &rs[i]
		if _, err := st.ExecContext(ctx, r.Guard, int64(r.Step/time.Second), r.Start.Unix(),
			r.Calls, r.Succeeded, r.Failed, r.Slow, r.RejectedOpen, r.RejectedFull, r.RejectedLimited, r.Severity); err != nil {
			return s.wrap("append", err)
		}
	}
	if err := s.retain(ctx, tx, time.Now()); err != nil {
		return err
	}
	return s.wrap("append", tx.Commit())
}

// Prune applies the retention as of now: it deletes the rollups that
// started before now minus the maximum age (an hour for rollups shorter
// than a minute) and, while the file's pages in
// use exceed the maximum size, the oldest ones. AppendRollups does it on
// its own; Prune is the explicit-time way.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("prune", err)
	}
	defer tx.Rollback()
	if err := s.retain(ctx, tx, now); err != nil {
		return err
	}
	return s.wrap("prune", tx.Commit())
}

// retain applies the retention in tx.
func (s *Store) retain(ctx context.Context, tx *sql.Tx, now time.Time) error {
	// Rollups shorter than a minute are kept as long as the server shows
	// them (an hour), the others the maximum age.
	if _, err := tx.ExecContext(ctx, "DELETE FROM rollups WHERE start < ?", now.Add(-s.cfg.maxAge).Unix()); err != nil {
		return s.wrap("retain by age", err)
	}
	short := now.Add(-min(s.cfg.maxAge, admin.ShortHistory)).Unix()
	if _, err := tx.ExecContext(ctx, "DELETE FROM rollups WHERE step < ? AND start < ?", int64(admin.LongRollup/time.Second), short); err != nil {
		return s.wrap("retain by age", err)
	}
	target := s.cfg.maxBytes / 10 * 9
	for range 32 {
		used, err := usedBytes(ctx, tx)
		if err != nil {
			return s.wrap("retain by size", err)
		}
		if used <= s.cfg.maxBytes {
			break
		}
		var rows int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM rollups").Scan(&rows); err != nil {
			return s.wrap("retain by size", err)
		}
		if rows == 0 {
			break
		}
		// As many of the oldest rows as the excess holds, at the mean row
		// size; at least a hundredth of them, so that the loop ends.
		k := max((used-target)*rows/used+1, rows/100+1)
		if _, err := tx.ExecContext(ctx, "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups ORDER BY start, rowid LIMIT ?)", k); err != nil {
			return s.wrap("retain by size", err)
		}
		if _, err := tx.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
			return s.wrap("retain by size", err)
		}
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// usedBytes is the size of the file's pages in use: all but the free ones.
func usedBytes(ctx context.Context, q querier) (int64, error) {
	var pages, free, size int64
	if err := q.QueryRowContext(ctx, "SELECT page_count, freelist_count, page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()").Scan(&pages, &free, &size); err != nil {
		return 0, err
	}
	return (pages - free) * size, nil
}

// Size returns the size of the file's pages in use, which the retention
// keeps at most the maximum size (WithMaxBytes).
func (s *Store) Size(ctx context.Context) (int64, error) {
	n, err := usedBytes(ctx, s.db)
	if err != nil {
		return 0, s.wrap("size", err)
	}
	return n, nil
}

// LoadRollups returns the stored rollups that start at or after since,
// oldest first.
func (s *Store) LoadRollups(ctx context.Context, since time.Time) ([]admin.HistoryRollup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT guard, step, start, calls, succeeded, failed, slow,
		rejected_open, rejected_full, rejected_limited, severity
		FROM rollups WHERE start >= ? ORDER BY start, guard, step`, since.Unix())
	if err != nil {
		return nil, s.wrap("load", err)
	}
	defer rows.Close()
	var out []admin.HistoryRollup
	for rows.Next() {
		var (
			r           admin.HistoryRollup
			step, start int64
		)
		if err := rows.Scan(&r.Guard, &step, &start, &r.Calls, &r.Succeeded, &r.Failed, &r.Slow,
			&r.RejectedOpen, &r.RejectedFull, &r.RejectedLimited, &r.Severity); err != nil {
			return nil, s.wrap("load", err)
		}
		r.Step = time.Duration(step) * time.Second
		r.Start = time.Unix(start, 0).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("load", err)
	}
	return out, nil
}

// Close closes the file. Rollups already appended stay in it.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

// wrap prefixes err (nil stays nil) with the operation and the path, and
// marks the errors SQLite gives for a file that is not a database, or a
// damaged one, with ErrCorrupt.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isCode(err, sqlite3.SQLITE_NOTADB) || isCode(err, sqlite3.SQLITE_CORRUPT) {
		return fmt.Errorf("sqlitestore: %s %s: %w (%w)", op, s.path, ErrCorrupt, err)
	}
	return fmt.Errorf("sqlitestore: %s %s: %w", op, s.path, err)
}

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
