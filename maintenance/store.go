package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// Store keeps the windows created through the API or the CLI across
// restarts (WithStore). The scheduler calls Save with every such window
// after each add and delete, before the change takes effect (a failed Save
// refuses the change), and Load once, in Open. Windows of the policy
// document are never given to a Store. Calls are serialised by the
// scheduler.
type Store interface {
	// Load returns the stored windows; none when nothing was stored yet.
	Load(ctx context.Context) ([]Window, error)
	// Save replaces the stored windows with ws.
	Save(ctx context.Context, ws []Window) error
}

// Option configures Open.
type Option interface{ apply(*Scheduler) }

type optionFunc func(*Scheduler)

func (f optionFunc) apply(s *Scheduler) { f(s) }

// WithStore keeps the windows created through the API or the CLI in st:
// Open loads them back and every change is saved (see Store).
func WithStore(st Store) Option {
	return optionFunc(func(s *Scheduler) { s.store = st })
}

// FollowPolicy makes the scheduler follow the registry's policy documents:
// it checks and carries out their maintenance sections (see the package
// documentation). A registry refuses a document with maintenance windows
// while no scheduler follows it; open the scheduler before the policy
// manager restores the live document.
func FollowPolicy() Option {
	return optionFunc(func(s *Scheduler) { s.follow = true })
}

// Open returns a scheduler of reg configured by opts, not started: with
// WithStore it loads the stored windows, dropping the one-off windows that
// have ended (and saving the rest); with FollowPolicy it follows reg's
// policy documents. It fails for a store that cannot be read or holds a
// window that does not check, naming it, and when another scheduler
// follows reg's documents already.
func Open(reg *core.Registry, opts ...Option) (*Scheduler, error) {
	s := New(reg)
	for _, o := range opts {
		o.apply(s)
	}
	if s.store != nil {
		if err := s.load(context.Background(), time.Now()); err != nil {
			return nil, err
		}
	}
	if s.follow {
		unfollow, err := reg.Follow(policyFollower{s}) // policy.go
		if err != nil {
			return nil, fmt.Errorf("maintenance: FollowPolicy: %w", err)
		}
		s.unfollow = unfollow
	}
	return s, nil
}

// load reads the store's windows at now.
func (s *Scheduler) load(ctx context.Context, now time.Time) error {
	ws, err := s.store.Load(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := false
	for i, w := range ws {
		win, err := s.check(w, now, fromStore)
		if err != nil {
			return fmt.Errorf("maintenance: stored window %d (%q) is invalid: %w", i, w.Name, err)
		}
		if win.sched == nil && !win.w.End.After(now) {
			dropped = true // a one-off window that ended while the process was down
			continue
		}
		if _, dup := s.windows[win.w.Name]; dup {
			return fmt.Errorf("maintenance: stored window %d: the name %q is stored twice", i, w.Name)
		}
		s.windows[win.w.Name] = win
	}
	if dropped {
		return s.saveLocked(ctx)
	}
	return nil
}

// saveLocked saves the windows created through the API, sorted by name;
// it does nothing without a store.
func (s *Scheduler) saveLocked(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	ws := make([]Window, 0, len(s.windows))
	for _, w := range s.windows {
		if w.w.Source == "" {
			ws = append(ws, w.w)
		}
	}
	slices.SortFunc(ws, func(a, b Window) int { return strings.Compare(a.Name, b.Name) })
	if err := s.store.Save(ctx, ws); err != nil {
		return fmt.Errorf("maintenance: the window store refused the change, so it was not made: %w", err)
	}
	return nil
}

// FileStore is a Store in one JSON file. Save writes a temporary file in
// the same directory, flushes it to disk and renames it over the file (and
// flushes the directory), so the file holds the old windows or the new
// ones, never part of either. Load refuses a file it cannot read whole,
// with an error naming it: fix or remove it (it is never overwritten
// then, since Open fails).
type FileStore struct {
	path string
}

// NewFileStore returns a FileStore of the file at path; the file need not
// exist (no windows), its directory must.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// fileFormat names the file's format.
const fileFormat = "breakerbox-maintenance/1"

type fileContent struct {
	Format  string   `json:"format"`
	Windows []Window `json:"windows"`
}

// Load implements Store.
func (f *FileStore) Load(context.Context) ([]Window, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintenance: reading the window store: %w", err)
	}
	var c fileContent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("maintenance: the window store %s is corrupt (%v); it was left as it is: fix or remove it", f.path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("maintenance: the window store %s is corrupt (data after the JSON object); it was left as it is: fix or remove it", f.path)
	}
	if c.Format != fileFormat {
		return nil, fmt.Errorf("maintenance: the window store %s has format %q, not %q; it was left as it is", f.path, c.Format, fileFormat)
	}
	return c.Windows, nil
}

// Save implements Store.
func (f *FileStore) Save(_ context.Context, ws []Window) error {
	if ws == nil {
		ws = []Window{}
	}
	b, err := json.MarshalIndent(fileContent{Format: fileFormat, Windows: ws}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

var _ Store = (*FileStore)(nil)
