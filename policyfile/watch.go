package policyfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change it sees
// before it reloads (see WithDebounce).
const DefaultDebounce = 150 * time.Millisecond

// WithDebounce sets how long Watch waits for changes to stop before it
// reloads (default DefaultDebounce), so that a file written in several
// pieces is read once, whole. A stream of changes that never pauses is
// still read every ten debounce periods.
func WithDebounce(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.debounce = d
		}
	}
}

// Watch loads the document at path (a file or a directory, as Load does),
// calls fn with it, then watches path and calls fn again after every change
// that gives a different document, until ctx ends. It returns nil when ctx
// ends, and an error when the watch cannot start or the watched directory
// goes away.
//
// Watch watches the directory (a file's parent directory, or path itself),
// not the file, so it sees what editors and deployment tools actually do:
// a new file renamed over the old one (atomic save), and the Kubernetes
// ConfigMap update, which swaps the "..data" symbolic link to a new
// "..<timestamp>" directory while the files stay links through "..data".
// Changes are debounced (WithDebounce), so a file written in pieces is read
// when the writes stop. A file that is a symbolic link to a file in another
// directory (other than through a "..data" link beside it) is read through
// the link, but changes made at the target are not seen.
//
// fn receives either a document or an error, never both, from one goroutine
// at a time, and never after Watch returns:
//
//   - a document only when its content hash (core.Document.Hash) differs
//     from the last document fn received, or when an error came in between
//     (so a fix is always reported, even back to the same content);
//   - an error when the document cannot be read or is refused (a
//     *core.DocumentError listing every problem), when the file was deleted
//     (errors.Is(err, fs.ErrNotExist)), or when the watch itself fails. The
//     same error is not reported twice in a row. An error never stands for
//     an empty document: the caller keeps the last good document live, and
//     only a document that says "policies: []" removes every policy.
//
// A typical fn applies the document to a registry:
//
//	policyfile.Watch(ctx, "policies/", func(doc core.Document, err error) {
//		if err == nil {
//			_, err = reg.Apply(doc)
//		}
//		if err != nil {
//			log.Printf("policies not reloaded, the last good ones stay live: %v", err)
//		}
//	})
func Watch(ctx context.Context, path string, fn func(core.Document, error), opts ...Option) error {
	cfg := newConfig(opts)
	path = filepath.Clean(path)
	dir, base := path, ""
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		dir, base = filepath.Dir(path), filepath.Base(path)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("policyfile: watching %s: %w", path, err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("policyfile: watching %s: %w", dir, err)
	}
	r := &reloader{path: path, cfg: cfg, fn: fn}
	r.reload() // after Add, so no change is missed

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	poke := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { debounce(ctx, poke, cfg.debounce, cfg.maxDelay, r.reload) })
	defer wg.Wait()
	signal := func() {
		select {
		case poke <- struct{}{}:
		default: // a reload is already due
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Name == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				err := fmt.Errorf("policyfile: the watched directory %s was removed; watching stopped, the last good document stays live", dir)
				cancel()
				wg.Wait()
				fn(core.Document{}, err)
				return err
			}
			if relevant(ev, base) {
				signal()
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				signal() // events were lost: read again
				continue
			}
			r.deliver(core.Document{}, fmt.Errorf("policyfile: watching %s: %w", dir, err))
		}
	}
}

// relevant reports whether an event in the watched directory may change the
// document: in file mode (base set) an event on the file or on a Kubernetes
// "..data" entry; in directory mode an event on a policy file or on a
// "..data" entry. Events that only change permissions are ignored.
func relevant(ev fsnotify.Event, base string) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Base(ev.Name)
	if strings.HasPrefix(name, "..") {
		return true
	}
	if base != "" {
		return name == base
	}
	return !strings.HasPrefix(name, ".") && isPolicyFile(name)
}

// reloader loads the document and calls fn, skipping repeats.
type reloader struct {
	path string
	cfg  *config
	fn   func(core.Document, error)

	mu       sync.Mutex // serialises deliver
	lastHash string     // of the last document delivered; "" after an error
	lastErr  string     // the last error delivered; "" after a document
}

func (r *reloader) reload() {
	doc, err := load(r.path, r.cfg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("policyfile: %s is gone (deleted, or being replaced); the last good document stays live: %w", r.path, err)
		}
		r.deliver(core.Document{}, err)
		return
	}
	r.deliver(doc, nil)
}

func (r *reloader) deliver(doc core.Document, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if err.Error() == r.lastErr {
			return
		}
		r.lastErr, r.lastHash = err.Error(), ""
		r.fn(core.Document{}, err)
		return
	}
	h := doc.Hash()
	if h == r.lastHash {
		return
	}
	r.lastHash, r.lastErr = h, ""
	r.fn(doc, nil)
}

// debounce calls fire once the signals on poke have paused for quiet, or
// maxDelay after the first signal of a stream that does not pause, until
// ctx ends.
func debounce(ctx context.Context, poke <-chan struct{}, quiet, maxDelay time.Duration, fire func()) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time // nil while nothing is pending
	var deadline time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-poke:
			now := time.Now()
			if due == nil {
				deadline = now.Add(maxDelay)
			}
			timer.Reset(max(0, min(quiet, deadline.Sub(now))))
			due = timer.C
		case <-due:
			due = nil
			fire()
		}
	}
}
