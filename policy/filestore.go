package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// FileStore is the plain-file Store, for a process without a database: one
// JSON record a line, appended to the file and synced to disk before Append
// returns, read back when the store is opened again after a restart.
//
// Limits: one process writes the file. Two processes appending to the same
// file would number versions alike; a FileStore notices a file that grew
// behind its back and refuses to append, but it does not lock the file, so
// use the SQLite store (module policy/sqlitestore) for a store several
// processes share. Records are read from the file on demand (the store
// keeps only each record's place in memory), so the history is bounded by
// the disk, not by memory; every Append costs one write and one fsync.
//
// A crash in the middle of an Append leaves a torn last line: OpenFileStore
// cuts it off (the Append it belonged to never returned, so its version was
// never applied) and Recovered reports what it cut. Any other line that
// does not hold a record (a damaged file) is an error naming the file and
// the line, and the store does not open: a damaged history needs an
// operator, not a guess.
//
// It is safe for concurrent use.
type FileStore struct {
	path string

	mu        sync.Mutex // guards everything below
	f         *os.File   // nil once closed
	size      int64      // bytes of whole records in the file
	index     []fileEntry
	recovered error // *TornRecordError, or nil
}

// fileEntry is a record's place in the file.
type fileEntry struct {
	version uint64
	off     int64
	n       int64 // without the newline
}

// TornRecordError describes the torn last line OpenFileStore cut off.
type TornRecordError struct {
	Path string
	// Line is the torn line's number, counting from 1.
	Line int
	// Bytes is how many bytes were cut off.
	Bytes int64
}

// Error says what was cut and why.
func (e *TornRecordError) Error() string {
	return fmt.Sprintf("policy: file store: %s:%d: cut off a torn record of %d bytes (an append interrupted by a crash; its version was never applied)", e.Path, e.Line, e.Bytes)
}

// OpenFileStore opens the store in the file at path, creating it (mode
// 0600) when it does not exist. A torn last line is cut off (see
// Recovered); a damaged line elsewhere is an error naming path:line.
func OpenFileStore(path string) (*FileStore, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("policy: file store: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// A new file: sync its directory, so that the file itself
		// survives a crash along with the records synced into it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	s := &FileStore{path: path, f: f}
	if err := s.load(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("policy: file store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("policy: file store: syncing %s: %w", dir, err)
	}
	return nil
}

// load reads the index of the file's records, cutting off a torn last
// line.
func (s *FileStore) load() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("policy: file store: %w", err)
	}
	br := bufio.NewReader(s.f)
	var off int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] != '\n' {
			// The last line has no newline: an append a crash cut short.
			if err := s.f.Truncate(off); err != nil {
				return fmt.Errorf("policy: file store: %s:%d: cutting off a torn record: %w", s.path, line, err)
			}
			if err := s.f.Sync(); err != nil {
				return fmt.Errorf("policy: file store: %w", err)
			}
			s.recovered = &TornRecordError{Path: s.path, Line: line, Bytes: int64(len(b))}
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("policy: file store: %s:%d: %w", s.path, line, err)
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("policy: file store: %s:%d: not a policy record (the file is damaged; nothing was changed): %w", s.path, line, err)
		}
		if err := checkRecord(rec); err != nil {
			return fmt.Errorf("policy: file store: %s:%d: %w", s.path, line, err)
		}
		if n := len(s.index); n > 0 && rec.Version <= s.index[n-1].version || rec.Version == 0 {
			prev := uint64(0)
			if n > 0 {
				prev = s.index[n-1].version
			}
			return fmt.Errorf("policy: file store: %s:%d: version %d does not follow version %d (the file is damaged or was edited)", s.path, line, rec.Version, prev)
		}
		s.index = append(s.index, fileEntry{version: rec.Version, off: off, n: int64(len(b) - 1)})
		off += int64(len(b))
	}
	s.size = off
	return nil
}

// Recovered returns a *TornRecordError when OpenFileStore cut off a torn
// last line, and nil otherwise.
func (s *FileStore) Recovered() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// Path returns the file's path.
func (s *FileStore) Path() string { return s.path }

// Append writes rec as the next version and syncs the file. When the write
// or the sync fails, whatever part of the record was written is cut off
// again and the version is not used.
func (s *FileStore) Append(ctx context.Context, rec Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := checkRecord(rec); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return Record{}, errClosed
	}
	fi, err := s.f.Stat()
	if err != nil {
		return Record{}, fmt.Errorf("policy: file store: %w", err)
	}
	if fi.Size() != s.size {
		return Record{}, fmt.Errorf("policy: file store: %s is %d bytes, not the %d this store wrote: another process writes to it (a FileStore takes one writer; see FileStore)", s.path, fi.Size(), s.size)
	}
	rec.Version = 1
	if n := len(s.index); n > 0 {
		rec.Version = s.index[n-1].version + 1
	}
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return Record{}, fmt.Errorf("policy: file store: encoding version %d: %w", rec.Version, err)
	}
	if bytes.IndexByte(b, '\n') >= 0 { // cannot happen: JSON escapes newlines
		return Record{}, errors.New("policy: file store: record encodes with a newline")
	}
	b = append(b, '\n')
	_, err = s.f.Write(b)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		_ = s.f.Truncate(s.size)
		return Record{}, fmt.Errorf("policy: file store: appending version %d to %s: %w", rec.Version, s.path, err)
	}
	s.index = append(s.index, fileEntry{version: rec.Version, off: s.size, n: int64(len(b) - 1)})
	s.size += int64(len(b))
	return cloneRecord(rec), nil
}

// readLocked reads the record of entry e.
func (s *FileStore) readLocked(e fileEntry) (Record, error) {
	b := make([]byte, e.n)
	if _, err := s.f.ReadAt(b, e.off); err != nil {
		return Record{}, fmt.Errorf("policy: file store: reading version %d: %w", e.version, err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("policy: file store: reading version %d: %w", e.version, err)
	}
	return rec, nil
}

// Get returns version v.
func (s *FileStore) Get(ctx context.Context, v uint64) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return Record{}, errClosed
	}
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].version >= v })
	if i == len(s.index) || s.index[i].version != v {
		return Record{}, fmt.Errorf("%w: %d", ErrNoVersion, v)
	}
	return s.readLocked(s.index[i])
}

// List returns up to limit records, newest first.
func (s *FileStore) List(ctx context.Context, limit int) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil, errClosed
	}
	n := len(s.index)
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]Record, 0, n)
	for i := len(s.index) - 1; i >= 0 && len(out) < n; i-- {
		rec, err := s.readLocked(s.index[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Latest returns the newest record.
func (s *FileStore) Latest(ctx context.Context) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return Record{}, false, errClosed
	}
	if len(s.index) == 0 {
		return Record{}, false, nil
	}
	rec, err := s.readLocked(s.index[len(s.index)-1])
	return rec, err == nil, err
}

// Close closes the file; later calls fail.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
