package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestAuditRecordsComplete(t *testing.T) {
	a := newTestAPI(t)
	start := time.Now().Add(-time.Second)
	a.op(OpOpen, aliceSecret, OperationRequest{Tag: "stripe", Reason: "provider incident", Duration: core.Duration(time.Hour)}).ok(t, nil)
	a.op(OpClose, bobSecret, OperationRequest{Name: "search", Reason: "flapping"}).ok(t, nil)
	a.op(OpRelease, aliceSecret, OperationRequest{All: true, Reason: "all clear"}).ok(t, nil)

	p := a.audit("")
	if len(p.Records) != 3 || p.More {
		t.Fatalf("records %+v", p)
	}
	r := p.Records[0]
	if r.Seq != 1 || r.Actor != "alice" || r.Op != OpOpen || r.Target.Tag != "stripe" || r.Reason != "provider incident" || r.Params["duration"] != "1h0m0s" {
		t.Errorf("record 1: %+v", r)
	}
	if r.Time.Before(start) || r.Time.After(time.Now()) {
		t.Errorf("record 1 time %v", r.Time)
	}
	if len(r.Before) != 2 || len(r.After) != 2 || r.Before[0].Guard != "payments.charge" || r.Before[0].State != breaker.Closed || r.After[0].State != breaker.Open || r.After[0].OpenUntil == nil || r.After[0].Override == nil || r.After[0].Override.Actor != "alice" {
		t.Errorf("record 1 before/after: %+v / %+v", r.Before, r.After)
	}
	r = p.Records[1]
	if r.Seq != 2 || r.Actor != "bob" || r.Op != OpDisable || r.Params["as"] != "close" || r.Before[0].State != breaker.Closed || r.After[0].State != breaker.Disabled {
		t.Errorf("record 2: %+v", r)
	}
	r = p.Records[2]
	if r.Seq != 3 || r.Op != OpRelease || !r.Target.All || len(r.Before) != 4 || len(r.After) != 4 {
		t.Errorf("record 3: %+v", r)
	}
	for _, b := range r.After {
		if b.State != breaker.Closed || b.Override != nil {
			t.Errorf("after release all: %+v", b) // a timed open is released too
		}
	}
	if !p.Records[0].Time.Before(p.Records[2].Time) && !p.Records[0].Time.Equal(p.Records[2].Time) {
		t.Error("records out of time order")
	}

	// Paging.
	p = a.audit("?limit=2")
	if len(p.Records) != 2 || !p.More || p.Next != 2 {
		t.Fatalf("page 1: %+v", p)
	}
	p = a.audit(fmt.Sprintf("?limit=2&after=%d", p.Next))
	if len(p.Records) != 1 || p.More || p.Records[0].Seq != 3 {
		t.Fatalf("page 2: %+v", p)
	}
	p = a.audit("?since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if len(p.Records) != 0 {
		t.Fatalf("since the future: %+v", p)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?after=-1", "?since=yesterday"} {
		a.do(http.MethodGet, "/v1/audit"+q, readSecret, nil).problem(t, 400, codeInvalid)
	}
}

// failingSink fails while fail is set.
type failingSink struct {
	mu   sync.Mutex
	fail bool
	got  []AuditRecord
}

func (s *failingSink) WriteAudit(_ context.Context, r AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	s.got = append(s.got, r)
	return nil
}

func TestAuditFailureFailsTheOperation(t *testing.T) {
	sink := &failingSink{}
	var logs bytes.Buffer
	a := newTestAPI(t, WithAuditSink(sink), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "first"}).ok(t, nil)

	sink.fail = true
	p := a.op(OpDisable, aliceSecret, OperationRequest{All: true, Reason: "second"}).problem(t, 503, codeAuditFailed)
	if !strings.Contains(p.Detail, "disk full") || !strings.Contains(p.Detail, "rolled back") {
		t.Errorf("detail %q", p.Detail)
	}
	if a.state("search") != "forced-open" || a.state("payments.charge") != "closed" {
		t.Errorf("not rolled back: search %s, payments.charge %s", a.state("search"), a.state("payments.charge"))
	}
	if !strings.Contains(logs.String(), "audit record lost") {
		t.Errorf("not logged: %s", logs.String())
	}
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "payments.charge", Reason: "x", Duration: core.Duration(time.Hour)}).problem(t, 503, codeAuditFailed)
	if a.state("payments.charge") != "closed" {
		t.Errorf("timed open not rolled back: %s", a.state("payments.charge"))
	}
	a.do(http.MethodPost, "/v1/prune", aliceSecret, PruneRequest{Idle: core.Duration(time.Hour), Reason: "x"}).problem(t, 503, codeAuditFailed)

	sink.fail = false
	var res OperationResult
	a.op(OpRelease, aliceSecret, OperationRequest{Name: "search", Reason: "third"}).ok(t, &res)
	// Sequence numbers are never reused, so sinks never see one twice.
	if len(sink.got) != 2 || sink.got[0].Seq != 1 || sink.got[1].Seq != res.AuditSeq || res.AuditSeq <= 2 {
		t.Errorf("sink records %+v, last seq %d", sink.got, res.AuditSeq)
	}
	// The API's own log has only the operations that happened.
	p2 := a.audit("")
	if len(p2.Records) != 2 || p2.Records[0].Reason != "first" || p2.Records[1].Reason != "third" {
		t.Errorf("audit %+v", p2.Records)
	}
}

func TestFileSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	s, err := NewFileSink(path, FileSinkOptions{MaxBytes: 600, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := func(seq uint64) AuditRecord {
		return AuditRecord{Seq: seq, Time: time.Unix(int64(seq), 0).UTC(), Actor: "alice", Op: OpOpen, Target: Target{Name: "g"}, Reason: strings.Repeat("r", 100), Before: []GuardState{}, After: []GuardState{}}
	}
	for i := uint64(1); i <= 12; i++ {
		if err := s.WriteAudit(ctx, rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Rotation: the current file and two backups, each at most 600 bytes.
	for _, n := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 600 || st.Size() == 0 {
			t.Errorf("%s: %d bytes", n, st.Size())
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", n, st.Mode())
		}
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a third backup exists: %v", err)
	}
	p, err := s.ReadAudit(ctx, AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// The oldest records were rotated away; the rest are in order.
	if len(p.Records) == 0 || p.Records[len(p.Records)-1].Seq != 12 {
		t.Fatalf("records %+v", p.Records)
	}
	for i := 1; i < len(p.Records); i++ {
		if p.Records[i].Seq != p.Records[i-1].Seq+1 {
			t.Fatalf("gap: %d then %d", p.Records[i-1].Seq, p.Records[i].Seq)
		}
	}
	first := p.Records[0].Seq
	p, _ = s.ReadAudit(ctx, AuditQuery{After: first, Limit: 2})
	if len(p.Records) != 2 || p.Records[0].Seq != first+1 || !p.More || p.Next != first+2 {
		t.Fatalf("page: %+v", p)
	}
	p, _ = s.ReadAudit(ctx, AuditQuery{Since: time.Unix(11, 0)})
	if len(p.Records) != 2 || p.Records[0].Seq != 11 {
		t.Fatalf("since: %+v", p)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAudit(ctx, rec(13)); err == nil {
		t.Fatal("write after close succeeded")
	}

	// A torn last line (a crash mid-write) is cut off on reopening, and
	// numbering goes on from the last whole record.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":13,"ti`)
	f.Close()
	s, err = NewFileSink(path, FileSinkOptions{MaxBytes: 600, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if last, _ := s.LastAuditSeq(ctx); last != 12 {
		t.Fatalf("last seq %d, want 12", last)
	}
	if err := s.WriteAudit(ctx, rec(13)); err != nil {
		t.Fatal(err)
	}
	p, err = s.ReadAudit(ctx, AuditQuery{After: 11})
	if err != nil || len(p.Records) != 2 || p.Records[1].Seq != 13 {
		t.Fatalf("after reopening: %+v, %v", p, err)
	}
}

func TestFileSinkServesTheAPIAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := NewFileSink(path, FileSinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, WithAuditSink(sink))
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "one"}).ok(t, nil)
	a.op(OpRelease, aliceSecret, OperationRequest{Name: "search", Reason: "two"}).ok(t, nil)
	sink.Close()

	// A new process: numbering continues, the old records are readable.
	sink, err = NewFileSink(path, FileSinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	b := newTestAPI(t, WithAuditSink(sink), WithRecent(1))
	var res OperationResult
	b.op(OpOpen, bobSecret, OperationRequest{Name: "search", Reason: "three"}).ok(t, &res)
	if res.AuditSeq != 3 {
		t.Fatalf("seq %d after restart, want 3", res.AuditSeq)
	}
	p := b.audit("")
	if len(p.Records) != 3 || p.Records[0].Reason != "one" || p.Records[2].Actor != "bob" {
		t.Fatalf("records %+v", p.Records)
	}
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("\n")); n != 3 {
		t.Fatalf("%d lines in the file", n)
	}
	var r AuditRecord
	if err := json.Unmarshal(bytes.SplitN(data, []byte("\n"), 2)[0], &r); err != nil || r.Reason != "one" {
		t.Fatalf("first line: %+v %v", r, err)
	}
}

func TestSlogSink(t *testing.T) {
	var buf bytes.Buffer
	sink := NewSlogSink(slog.New(slog.NewJSONHandler(&buf, nil)))
	a := newTestAPI(t, WithAuditSink(sink))
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "why not", Duration: core.Duration(time.Minute)}).ok(t, nil)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	if line["msg"] != "breakerbox audit" || line["actor"] != "alice" || line["op"] != "open" || line["reason"] != "why not" || line["target"] != `name "search"` {
		t.Errorf("logged %v", line)
	}
	if params, _ := line["params"].(map[string]any); params["duration"] != "1m0s" {
		t.Errorf("params %v", line["params"])
	}
	if before, _ := line["before"].([]any); len(before) != 1 {
		t.Errorf("before %v", line["before"])
	}

	// A logger that drops Info would lose records: that fails the operation.
	quiet := NewSlogSink(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	b := newTestAPI(t, WithAuditSink(quiet))
	b.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "x"}).problem(t, 503, codeAuditFailed)
	if b.state("search") != "closed" {
		t.Error("not rolled back")
	}
}

func TestMemoryAuditKeepsTheNewest(t *testing.T) {
	a := newTestAPI(t, WithRecent(3))
	for i := 0; i < 5; i++ {
		a.op(OpReset, aliceSecret, OperationRequest{Name: "search", Reason: fmt.Sprint(i)}).ok(t, nil)
	}
	p := a.audit("")
	if len(p.Records) != 3 || p.Records[0].Seq != 3 || p.Records[2].Seq != 5 {
		t.Fatalf("%+v", p.Records)
	}
}
