package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// Defaults for a Recorder's options.
const (
	DefaultMaxBytes = 64 << 20
	DefaultFiles    = 8
	DefaultQueue    = 8192
	// MinFileBytes is the smallest file WithMaxBytes/WithFiles may leave.
	MinFileBytes = 1 << 10
)

// flushEvery is how often the writer drains the buffer when nobody asks.
const flushEvery = 100 * time.Millisecond

// policyEvery is how often an attached recorder reads the policy version.
const policyEvery = time.Second

// Option configures a Recorder.
type Option interface{ apply(*config) }

type config struct {
	maxBytes int64
	files    int
	every    int
	queue    int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxBytes caps the recording's total size on disk (default
// DefaultMaxBytes). The recording never grows past it: the oldest file
// is deleted first.
func WithMaxBytes(n int64) Option { return optionFunc(func(c *config) { c.maxBytes = n }) }

// WithFiles sets how many files the recording is spread over (default
// DefaultFiles, at least 2): each holds at most maxBytes/files bytes, and
// rotating deletes one file's worth of the oldest events.
func WithFiles(n int) Option { return optionFunc(func(c *config) { c.files = n }) }

// WithSampling records one call outcome and one rejection in every (at
// random); 1, the default, records them all. State changes, overrides and
// policy versions are always recorded.
func WithSampling(every int) Option { return optionFunc(func(c *config) { c.every = every }) }

// WithQueue bounds the events waiting for the writer (default
// DefaultQueue); past it, events are dropped and counted.
func WithQueue(n int) Option { return optionFunc(func(c *config) { c.queue = n }) }

// Stats are a Recorder's counters.
type Stats struct {
	// Events counts events written; Dropped, events dropped because the
	// buffer was full or the line too long.
	Events, Dropped uint64
	// Bytes is the recording's size on disk, Files its file count.
	Bytes int64
	Files int
	// WriteErrors counts failed writes; LastError is the latest.
	WriteErrors uint64
	LastError   string
}

// Recorder writes events to a bounded recording in a directory (see the
// package documentation). Its hooks are safe for concurrent use and never
// block; Close stops it. Create one with New.
type Recorder struct {
	dir       string
	maxBytes  int64
	every     uint32
	fileBytes int64
	files     int

	// The buffer hooks append to, guarded by mu; the writer swaps it out.
	mu      sync.Mutex
	buf     []Event
	dropped atomic.Uint64 // events dropped so far
	kick    chan struct{} // wakes the writer early when the buffer fills

	flushReq chan chan []fileInfo
	imports  chan importReq
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
	reg      atomic.Pointer[core.Registry]

	// Written by the writer only; stats copies them under statMu.
	statMu      sync.Mutex
	stats       Stats
	seq         int
	cur         *os.File
	curSize     int64
	fileList    []fileInfo
	spare       []Event
	lastDropped uint64
	lastPolicy  string
}

type fileInfo struct {
	name string
	size int64
}

// New starts a recorder writing to dir, created if missing. Files a
// previous recorder left there are kept (counted against the cap) and the
// new file numbers follow theirs.
func New(dir string, opts ...Option) (*Recorder, error) {
	c := config{maxBytes: DefaultMaxBytes, files: DefaultFiles, every: 1, queue: DefaultQueue}
	for _, o := range opts {
		o.apply(&c)
	}
	switch {
	case c.files < 2:
		return nil, fmt.Errorf("record: files: %d, want at least 2", c.files)
	case c.maxBytes/int64(c.files) < MinFileBytes:
		return nil, fmt.Errorf("record: maxBytes: %d over %d files leaves less than %d bytes a file", c.maxBytes, c.files, MinFileBytes)
	case c.every < 1 || c.every > MaxSampleEvery:
		return nil, fmt.Errorf("record: sampling: %d is out of range [1, %d]", c.every, MaxSampleEvery)
	case c.queue < 1 || c.queue > 1<<24:
		return nil, fmt.Errorf("record: queue: %d is out of range [1, %d]", c.queue, 1<<24)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	r := &Recorder{dir: dir, maxBytes: c.maxBytes, every: uint32(c.every), fileBytes: c.maxBytes / int64(c.files), files: c.files,
		buf: make([]Event, 0, c.queue), spare: make([]Event, 0, c.queue), kick: make(chan struct{}, 1),
		flushReq: make(chan chan []fileInfo), imports: make(chan importReq), stop: make(chan struct{}), done: make(chan struct{})}
	if err := r.scan(); err != nil {
		return nil, err
	}
	if err := r.rotate(); err != nil {
		return nil, err
	}
	go r.run()
	return r, nil
}

// scan lists the recording files already in the directory.
func (r *Recorder) scan() error {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	for _, e := range ents {
		n, ok := fileSeq(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		r.fileList = append(r.fileList, fileInfo{e.Name(), info.Size()})
		r.seq = max(r.seq, n)
	}
	slices.SortFunc(r.fileList, func(a, b fileInfo) int { x, _ := fileSeq(a.name); y, _ := fileSeq(b.name); return x - y })
	return nil
}

func fileName(seq int) string { return fmt.Sprintf("rec-%09d.jsonl", seq) }

func fileSeq(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "rec-")
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, ".jsonl"); !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// Hooks returns the hooks that feed the recorder, for core.WithHooks or
// Registry.AddHooks. Attach is the usual way to use them.
func (r *Recorder) Hooks() core.Hooks {
	return core.Hooks{
		OnStateChange: func(_ context.Context, e core.StateChange) {
			r.send(Event{Kind: KindState, At: e.At, Guard: e.Guard, From: e.From.String(), To: e.To.String(), Reason: clip(e.Reason), Actor: clip(e.Actor)})
		},
		OnDone: func(_ context.Context, c core.Completion) {
			if r.every > 1 && rand.Uint32()%r.every != 0 {
				return
			}
			r.send(Event{Kind: KindCall, At: orNow(c.At), Guard: c.Guard, Result: c.Result.String(), LatencyNs: int64(c.Latency)})
		},
		OnReject: func(_ context.Context, j core.Rejection) {
			if r.every > 1 && rand.Uint32()%r.every != 0 {
				return
			}
			r.send(Event{Kind: KindReject, At: orNow(j.At), Guard: j.Guard, Reason: j.Err.ErrorType()})
		},
	}
}

// Attach records reg: its guards' events through Hooks, and its policy
// version now and whenever it changes. The returned function detaches the
// recorder again.
func (r *Recorder) Attach(reg *core.Registry) (detach func()) {
	remove := reg.AddHooks(r.Hooks())
	r.reg.Store(reg)
	r.Policy(reg.PolicyVersion())
	return func() {
		remove()
		r.reg.CompareAndSwap(reg, nil)
	}
}

// Policy records the live policy document's version and hash; an attached
// recorder does so itself when the version changes.
func (r *Recorder) Policy(version uint64, hash string) {
	r.send(Event{Kind: KindPolicy, At: time.Now(), Version: version, Hash: clip(hash)})
}

// orNow returns t, or the time now when t is zero (the hooks of the normal
// call path carry no time: the recorder reads the clock for the calls it
// samples only).
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func clip(s string) string {
	if len(s) > MaxTextBytes {
		return s[:MaxTextBytes]
	}
	return s
}

// send hands e to the writer, or drops it when the buffer is full.
func (r *Recorder) send(e Event) {
	r.mu.Lock()
	n := len(r.buf)
	if n == cap(r.buf) {
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	r.buf = append(r.buf, e)
	half := cap(r.buf) / 2
	r.mu.Unlock()
	if n == half {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	lastPolicy := time.Now()
	for {
		select {
		case <-tick.C:
		case <-r.kick:
		case reply := <-r.flushReq:
			r.drain()
			reply <- slices.Clone(r.fileList)
			continue
		case req := <-r.imports:
			req.reply <- r.importEvents(req.events)
			continue
		case <-r.stop:
			r.drain()
			if r.cur != nil {
				r.fail(r.cur.Close())
			}
			return
		}
		if reg := r.reg.Load(); reg != nil && time.Since(lastPolicy) >= policyEvery {
			lastPolicy = time.Now()
			if v, h := reg.PolicyVersion(); strconv.FormatUint(v, 10)+h != r.lastPolicy {
				r.Policy(v, h)
			}
		}
		r.drain()
	}
}

// drain writes the buffered events.
func (r *Recorder) drain() {
	r.mu.Lock()
	evs := r.buf
	r.buf = r.spare[:0]
	r.mu.Unlock()
	for i := range evs {
		r.write(&evs[i])
	}
	if d := r.dropped.Load(); d != r.lastDropped {
		r.write(&Event{Kind: KindDrop, At: time.Now(), Count: d - r.lastDropped})
		r.lastDropped = d
	}
	r.spare = evs[:0]
}

// write appends one event, rotating first when it would not fit.
func (r *Recorder) write(e *Event) {
	if e.Kind == KindPolicy {
		r.lastPolicy = strconv.FormatUint(e.Version, 10) + e.Hash
	}
	line, err := json.Marshal(e)
	if err != nil {
		r.fail(err)
		return
	}
	line = append(line, '\n')
	if int64(len(line)) > r.fileBytes/2 || len(line) > MaxLineBytes {
		r.dropped.Add(1) // too long to record; counted in the next drop line
		return
	}
	if r.curSize+int64(len(line)) > r.fileBytes {
		if err := r.rotate(); err != nil {
			r.fail(err)
			return
		}
	}
	r.append(line)
	r.statMu.Lock()
	r.stats.Events++
	r.statMu.Unlock()
}

// append writes line to the current file and counts its size.
func (r *Recorder) append(line []byte) {
	if r.cur == nil {
		return
	}
	n, err := r.cur.Write(line)
	r.curSize += int64(n)
	r.fileList[len(r.fileList)-1].size = r.curSize
	r.fail(err)
}

// rotate closes the current file, starts the next with a header, and
// deletes the oldest files so that at most r.files remain and the new
// file can grow to r.fileBytes within the cap (files a recorder with a
// larger cap left behind included).
func (r *Recorder) rotate() error {
	if r.cur != nil {
		r.fail(r.cur.Close())
		r.cur = nil
	}
	total := int64(0)
	for _, f := range r.fileList {
		total += f.size
	}
	for len(r.fileList) > 0 && (len(r.fileList) >= r.files || total+r.fileBytes > r.maxBytes) {
		total -= r.fileList[0].size
		if err := os.Remove(filepath.Join(r.dir, r.fileList[0].name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("record: %w", err)
		}
		r.fileList = r.fileList[1:]
	}
	r.seq++
	f, err := os.OpenFile(filepath.Join(r.dir, fileName(r.seq)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	r.cur, r.curSize = f, 0
	r.fileList = append(r.fileList, fileInfo{name: fileName(r.seq)})
	h, _ := json.Marshal(Event{Kind: KindHeader, At: time.Now(), Format: Format, SampleEvery: int(r.every)})
	r.append(append(h, '\n'))
	return nil
}

func (r *Recorder) fail(err error) {
	if err == nil {
		return
	}
	r.statMu.Lock()
	r.stats.WriteErrors++
	r.stats.LastError = err.Error()
	r.statMu.Unlock()
}

// Flush writes every event recorded so far to disk. It returns an error
// once the recorder is closed.
func (r *Recorder) Flush() error {
	_, err := r.flush()
	return err
}

func (r *Recorder) flush() ([]fileInfo, error) {
	reply := make(chan []fileInfo, 1)
	select {
	case r.flushReq <- reply:
		return <-reply, nil
	case <-r.done:
		return nil, errors.New("record: recorder closed")
	}
}

// Export flushes the recorder and writes the whole recording to w, oldest
// file first (a header line starts each file), as Read reads it. Recording
// goes on meanwhile; events written after the flush are left out.
func (r *Recorder) Export(w io.Writer) error {
	files, err := r.flush()
	if err != nil {
		return err
	}
	for _, fi := range files {
		f, err := os.Open(filepath.Join(r.dir, fi.name))
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated away since the flush: a later file starts the export
		}
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		_, err = io.Copy(w, io.LimitReader(f, fi.size))
		f.Close()
		if err != nil {
			return fmt.Errorf("record: export: %w", err)
		}
	}
	return nil
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() Stats {
	files, err := r.flush()
	if err != nil {
		files = r.fileList // closed: the writer is done with it
	}
	r.statMu.Lock()
	s := r.stats
	r.statMu.Unlock()
	s.Dropped = r.dropped.Load()
	s.Files = len(files)
	for _, f := range files {
		s.Bytes += f.size
	}
	return s
}

// Close writes what is buffered and stops the recorder; hooks still
// attached drop their events from then on (detach them first). Close is
// idempotent.
func (r *Recorder) Close() error {
	r.closing.Do(func() { close(r.stop) })
	<-r.done
	r.statMu.Lock()
	defer r.statMu.Unlock()
	if r.stats.LastError != "" {
		return errors.New("record: " + r.stats.LastError)
	}
	return nil
}

type importReq struct {
	events []Event
	reply  chan error
}

// Import adds a recording read by Read (from an Export) to this one, in
// files of its own: an operator moves a recording between instances, or
// brings one back after a restart. The cap holds: an import larger than
// the recording's cap keeps its newest part. A recording made with
// another sampling is refused.
func (r *Recorder) Import(rec *Recording) error {
	if rec.SampleEvery != int(r.every) {
		return fmt.Errorf("record: the recording samples 1 in %d calls, this recorder 1 in %d: they do not mix", rec.SampleEvery, r.every)
	}
	req := importReq{events: rec.Events, reply: make(chan error, 1)}
	select {
	case r.imports <- req:
		return <-req.reply
	case <-r.done:
		return errors.New("record: recorder closed")
	}
}

// MaxBytes returns the recording's cap on disk (WithMaxBytes).
func (r *Recorder) MaxBytes() int64 { return r.maxBytes }

// SampleEvery returns the recorder's sampling: 1 in SampleEvery calls.
func (r *Recorder) SampleEvery() int { return int(r.every) }

// importEvents writes imported events between two rotations, so that they
// never share a file with live ones.
func (r *Recorder) importEvents(evs []Event) error {
	r.drain()
	if err := r.rotate(); err != nil {
		return err
	}
	for i := range evs {
		r.write(&evs[i])
	}
	return r.rotate()
}
