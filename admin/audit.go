package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// AuditSink receives audit records. WriteAudit must return only once the
// record is stored (or report why it is not): an error fails the operation
// the record describes. It is called for one record at a time, in
// sequence order.
type AuditSink interface {
	WriteAudit(ctx context.Context, rec AuditRecord) error
}

// AuditReader is an AuditSink whose records can be read back; the first
// one given to WithAuditSink serves GET /v1/audit.
type AuditReader interface {
	AuditSink
	// ReadAudit returns the records matching q, oldest first.
	ReadAudit(ctx context.Context, q AuditQuery) (AuditPage, error)
	// LastAuditSeq returns the highest sequence number stored (0 if
	// none), so that a restarted server numbers on from there.
	LastAuditSeq(ctx context.Context) (uint64, error)
}

// page selects the records of rs (ascending by Seq) matching q.
func page(rs []AuditRecord, q AuditQuery) AuditPage {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	p := AuditPage{Records: []AuditRecord{}}
	for _, r := range rs {
		if r.Seq <= q.After || r.Time.Before(q.Since) {
			continue
		}
		if len(p.Records) == limit {
			p.More = true
			break
		}
		p.Records = append(p.Records, r)
	}
	if n := len(p.Records); n > 0 && p.More {
		p.Next = p.Records[n-1].Seq
	}
	return p
}

// FileSink is an AuditSink and AuditReader that appends records as JSON
// lines to a file, rotating it by size: when a record would take the file
// past MaxBytes, the file is renamed to "<path>.1" (older ones shift to
// ".2" and so on, and the oldest beyond MaxFiles is removed) and a new one
// is started. Every record is synced to disk before WriteAudit returns. It
// is safe for concurrent use.
type FileSink struct {
	path     string
	maxBytes int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64
	last uint64
}

// FileSinkOptions configures a FileSink; zero fields take the defaults.
type FileSinkOptions struct {
	// MaxBytes is the size at which the file is rotated. Default 10 MiB.
	MaxBytes int64
	// MaxFiles is the number of rotated files kept besides the current
	// one. Default 5.
	MaxFiles int
}

// NewFileSink opens (or creates, mode 0600) the audit file at path. A
// record left half-written at the end of the file by a crash is cut off.
func NewFileSink(path string, o FileSinkOptions) (*FileSink, error) {
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("admin: file sink: maxBytes: %d must not be negative", o.MaxBytes)
	}
	if o.MaxFiles < 0 {
		return nil, fmt.Errorf("admin: file sink: maxFiles: %d must not be negative", o.MaxFiles)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 10 << 20
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = 5
	}
	s := &FileSink{path: path, maxBytes: o.MaxBytes, maxFiles: o.MaxFiles}
	if err := s.open(); err != nil {
		return nil, err
	}
	for i := 0; i <= s.maxFiles && s.last == 0; i++ {
		last, err := lastSeqIn(s.name(i))
		if err != nil {
			s.f.Close()
			return nil, err
		}
		s.last = last
	}
	return s, nil
}

func (s *FileSink) name(i int) string {
	if i == 0 {
		return s.path
	}
	return s.path + "." + strconv.Itoa(i)
}

func (s *FileSink) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("admin: file sink: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("admin: file sink: %w", err)
	}
	size := int64(len(data))
	if size > 0 && data[size-1] != '\n' {
		size = int64(bytes.LastIndexByte(data, '\n') + 1)
		if err := f.Truncate(size); err != nil {
			f.Close()
			return fmt.Errorf("admin: file sink: cutting a torn record: %w", err)
		}
	}
	s.f, s.size = f, size
	return nil
}

// lastSeqIn returns the Seq of the last record in the file called name (0
// when it is missing or empty).
func lastSeqIn(name string) (uint64, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("admin: file sink: %w", err)
	}
	data = bytes.TrimRight(data, "\n")
	if len(data) == 0 {
		return 0, nil
	}
	line := data[bytes.LastIndexByte(data, '\n')+1:]
	var r struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return 0, fmt.Errorf("admin: file sink: %s: last line: %w", name, err)
	}
	return r.Seq, nil
}

// WriteAudit appends rec and syncs the file, rotating it first when it is
// full.
func (s *FileSink) WriteAudit(_ context.Context, rec AuditRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("admin: file sink: %w", err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("admin: file sink: closed")
	}
	if s.size > 0 && s.size+int64(len(b)) > s.maxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	_, err = s.f.Write(b)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		// Cut off whatever part of the record was written, so the next
		// record starts on a line of its own.
		_ = s.f.Truncate(s.size)
		return fmt.Errorf("admin: file sink: %w", err)
	}
	s.size += int64(len(b))
	s.last = rec.Seq
	return nil
}

func (s *FileSink) rotate() error {
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("admin: file sink: rotating: %w", err)
	}
	s.f = nil
	if err := os.Remove(s.name(s.maxFiles)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("admin: file sink: rotating: %w", err)
	}
	for i := s.maxFiles - 1; i >= 0; i-- {
		if err := os.Rename(s.name(i), s.name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("admin: file sink: rotating: %w", err)
		}
	}
	return s.open()
}

// ReadAudit reads the records matching q from the rotated files and the
// current one, oldest first.
func (s *FileSink) ReadAudit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	var rs []AuditRecord
	for i := s.maxFiles; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return AuditPage{}, err
		}
		more, err := s.scan(s.name(i), q, limit+1, &rs)
		if err != nil {
			return AuditPage{}, err
		}
		if !more {
			break
		}
	}
	return page(rs, AuditQuery{Limit: limit}), nil
}

// scan appends the matching records of one file to rs, and reports
// whether to go on (fewer than want records collected).
func (s *FileSink) scan(name string, q AuditQuery, want int, rs *[]AuditRecord) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("admin: file sink: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return false, fmt.Errorf("admin: file sink: %s:%d: %w", name, line, err)
		}
		if r.Seq <= q.After || r.Time.Before(q.Since) {
			continue
		}
		*rs = append(*rs, r)
		if len(*rs) >= want {
			return false, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("admin: file sink: %s: %w", name, err)
	}
	return true, nil
}

// LastAuditSeq returns the sequence number of the last record written.
func (s *FileSink) LastAuditSeq(context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// Close closes the file; later writes fail.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// SlogSink is an AuditSink that logs each record at level Info with the
// message "breakerbox audit". It calls the logger's handler directly, so
// a handler that fails to write fails the operation.
type SlogSink struct {
	logger *slog.Logger
}

// NewSlogSink returns a sink logging to l.
func NewSlogSink(l *slog.Logger) *SlogSink { return &SlogSink{logger: l} }

// WriteAudit logs rec.
func (s *SlogSink) WriteAudit(ctx context.Context, rec AuditRecord) error {
	h := s.logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return errors.New("admin: slog sink: the logger drops level Info, so audit records would be lost")
	}
	r := slog.NewRecord(rec.Time, slog.LevelInfo, "breakerbox audit", 0)
	r.AddAttrs(
		slog.Uint64("seq", rec.Seq),
		slog.String("actor", rec.Actor),
		slog.String("op", string(rec.Op)),
		slog.String("target", rec.Target.String()),
		slog.String("reason", rec.Reason),
	)
	if len(rec.Params) > 0 {
		attrs := make([]any, 0, len(rec.Params))
		for _, k := range sortedKeys(rec.Params) {
			attrs = append(attrs, slog.String(k, rec.Params[k]))
		}
		r.AddAttrs(slog.Group("params", attrs...))
	}
	r.AddAttrs(slog.Any("before", rec.Before), slog.Any("after", rec.After))
	if len(rec.Created) > 0 {
		r.AddAttrs(slog.Any("created", rec.Created))
	}
	if err := h.Handle(ctx, r); err != nil {
		return fmt.Errorf("admin: slog sink: %w", err)
	}
	return nil
}

// memoryLog keeps the most recent audit records and state transitions, for
// the debug page and, without an AuditReader, for GET /v1/audit.
type memoryLog struct {
	mu    sync.Mutex
	n     int
	ops   []AuditRecord // ring, oldest first after rotation
	trans []recentTransition
}

type recentTransition struct {
	Guard string
	Transition
}

func (m *memoryLog) addOp(r AuditRecord) {
	m.mu.Lock()
	m.ops = appendRing(m.ops, r, m.n)
	m.mu.Unlock()
}

func (m *memoryLog) addTransition(t recentTransition) {
	m.mu.Lock()
	m.trans = appendRing(m.trans, t, m.n)
	m.mu.Unlock()
}

// appendRing appends v, dropping the oldest element beyond n. The slice
// is kept in order (a copy on overflow is cheap at these sizes).
func appendRing[T any](s []T, v T, n int) []T {
	if len(s) >= n {
		copy(s, s[len(s)-n+1:])
		s = s[:n-1]
	}
	return append(s, v)
}

func (m *memoryLog) read(q AuditQuery) AuditPage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return page(m.ops, q)
}

func (m *memoryLog) recent() ([]AuditRecord, []recentTransition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]AuditRecord(nil), m.ops...), append([]recentTransition(nil), m.trans...)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// formatTime formats t for audit parameters.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
