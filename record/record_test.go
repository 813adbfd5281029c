package record_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/record"
)

var errDown = errors.New("down")

func newRecorder(t testing.TB, opts ...record.Option) (*record.Recorder, string) {
	t.Helper()
	dir := t.TempDir()
	rec, err := record.New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec, dir
}

func export(t *testing.T, rec *record.Recorder) *record.Recording {
	t.Helper()
	var buf bytes.Buffer
	if err := rec.Export(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := record.Read(&buf, 0)
	if err != nil {
		t.Fatalf("reading the export back: %v", err)
	}
	return got
}

func TestRecorderRecordsARegistry(t *testing.T) {
	rec, _ := newRecorder(t)
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}))
	if err != nil {
		t.Fatal(err)
	}
	detach := rec.Attach(reg)
	g := reg.MustGuard("payments")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Second)
		if p, err := g.AllowAt(context.Background(), at); err == nil {
			p.DoneAt(at.Add(20*time.Millisecond), errDown)
		}
	}
	g.Reset(breaker.Manual{Actor: "alice", Reason: "fixed"})
	detach()
	got := export(t, rec)
	var kinds []string
	for _, e := range got.Events {
		kinds = append(kinds, string(e.Kind))
	}
	// The trip's state change comes before the outcome of the call that
	// caused it: the breaker reports it from DoneAt, before OnDone runs.
	want := "policy call state call reject state"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("kinds = %v, want %s", kinds, want)
	}
	// Calls reported with DoneAt are recorded at their explicit end time,
	// not when the hook ran.
	if c := got.Events[1]; c.Guard != "payments" || c.Result != "failure" || c.Latency() != 20*time.Millisecond || !c.At.Equal(t0.Add(20*time.Millisecond)) {
		t.Errorf("call event = %+v", c)
	}
	if s := got.Events[2]; s.From != "closed" || s.To != "open" || !s.At.Equal(t0.Add(time.Second+20*time.Millisecond)) {
		t.Errorf("trip = %+v", s)
	}
	if r := got.Events[4]; r.Reason != "circuit_open" || !r.At.Equal(t0.Add(2*time.Second)) {
		t.Errorf("rejection = %+v", r)
	}
	if o := got.Events[5]; o.Actor != "alice" || o.To != "closed" {
		t.Errorf("override = %+v", o)
	}
	if got.SampleEvery != 1 {
		t.Errorf("SampleEvery = %d", got.SampleEvery)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

// TestRecordingNeverGrowsPastItsCap writes far more than the cap, checking
// the directory after every batch, across a restart too.
func TestRecordingNeverGrowsPastItsCap(t *testing.T) {
	const maxBytes = 8 << 10
	dir := t.TempDir()
	for restart := range 2 {
		rec, err := record.New(dir, record.WithMaxBytes(maxBytes), record.WithFiles(4))
		if err != nil {
			t.Fatal(err)
		}
		h := rec.Hooks()
		for batch := range 50 {
			for i := range 20 {
				h.OnDone(context.Background(), core.Completion{Guard: "g", Result: breaker.Success, Latency: time.Duration(batch*20+i) * time.Millisecond})
			}
			if err := rec.Flush(); err != nil {
				t.Fatal(err)
			}
			if n := dirBytes(t, dir); n > maxBytes {
				t.Fatalf("restart %d batch %d: the recording holds %d bytes, more than its cap %d", restart, batch, n, maxBytes)
			}
		}
		var buf bytes.Buffer
		if err := rec.Export(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := record.Read(&buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		if last := got.Events[len(got.Events)-1]; last.Latency() != 999*time.Millisecond {
			t.Fatalf("the newest event was lost: last is %+v", last)
		}
		if got.Events[0].Latency() == 0 {
			t.Fatalf("the oldest events were kept: rotation did not happen")
		}
		if s := rec.Stats(); s.Bytes > maxBytes || s.Files > 4 || s.Events < 1000 {
			t.Fatalf("stats %+v", s)
		}
		rec.Close()
	}
}

// TestRecorderDropsInsteadOfBlocking: a full buffer drops events, counts
// them, and the recording says how many are missing.
func TestRecorderDropsInsteadOfBlocking(t *testing.T) {
	rec, _ := newRecorder(t, record.WithQueue(2))
	h := rec.Hooks()
	const sent = 5000
	for range sent {
		h.OnDone(context.Background(), core.Completion{Guard: "g", Result: breaker.Failure})
	}
	got := export(t, rec)
	calls, dropLines := 0, uint64(0)
	for _, e := range got.Events {
		switch e.Kind {
		case record.KindCall:
			calls++
		case record.KindDrop:
			dropLines += e.Count
		}
	}
	s := rec.Stats()
	if uint64(calls)+s.Dropped != sent || dropLines != s.Dropped || s.Dropped == 0 {
		t.Fatalf("calls %d + dropped %d != sent %d, or drop lines say %d", calls, s.Dropped, sent, dropLines)
	}
}

func TestRecorderSamplesOneInN(t *testing.T) {
	rec, _ := newRecorder(t, record.WithSampling(100))
	h := rec.Hooks()
	for range 20000 {
		h.OnDone(context.Background(), core.Completion{Guard: "g", Result: breaker.Success})
	}
	h.OnStateChange(context.Background(), core.StateChange{Guard: "g", Transition: breaker.Transition{From: breaker.Closed, To: breaker.Open, At: time.Now()}})
	got := export(t, rec)
	calls, states := 0, 0
	for _, e := range got.Events {
		switch e.Kind {
		case record.KindCall:
			calls++
		case record.KindState:
			states++
		}
	}
	// 200 expected; the bounds are more than 9 standard deviations away.
	if calls < 80 || calls > 330 || states != 1 || got.SampleEvery != 100 {
		t.Fatalf("recorded %d calls of 20000 at 1 in 100, %d state changes, sampleEvery %d", calls, states, got.SampleEvery)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  record.Option
		want string
	}{
		{record.WithFiles(1), "files: 1"},
		{record.WithMaxBytes(100), "maxBytes: 100"},
		{record.WithSampling(0), "sampling: 0"},
		{record.WithQueue(-1), "queue: -1"},
	} {
		_, err := record.New(t.TempDir(), tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v, want an error naming %q", tc.want, err, tc.want)
		}
	}
}

const header = `{"kind":"header","at":"2026-03-01T12:00:00Z","format":1,"sampleEvery":1}` + "\n"
const call = `{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"g","result":"success","latencyNs":5}` + "\n"

// TestReadRefusesBadRecordingsNamingTheLine pins each way a recording can be
// corrupt, truncated or hostile to the line that shows it.
func TestReadRefusesBadRecordingsNamingTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"empty", "", 1, "empty recording"},
		{"no header", call, 1, "before the header"},
		{"truncated", header + call + call[:30], 3, "truncated"},
		{"cut at a line end", header + strings.TrimSuffix(call, "\n"), 2, "truncated"},
		{"not json", header + "garbage\n", 2, "not a recording event"},
		{"unknown field", header + `{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"g","result":"success","evil":1}` + "\n", 2, "unknown field"},
		{"two values", header + strings.TrimSuffix(call, "\n") + " {}\n", 2, "more than one JSON value"},
		{"unknown kind", header + `{"kind":"exec","at":"2026-03-01T12:00:01Z"}` + "\n", 2, `kind: "exec"`},
		{"no guard", header + `{"kind":"call","at":"2026-03-01T12:00:01Z","result":"success"}` + "\n", 2, "guard: missing"},
		{"bad result", header + `{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"g","result":"meh"}` + "\n", 2, `result: "meh"`},
		{"negative latency", header + `{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"g","result":"success","latencyNs":-1}` + "\n", 2, "latencyNs: -1"},
		{"bad state", header + `{"kind":"state","at":"2026-03-01T12:00:01Z","guard":"g","from":"closed","to":"melted"}` + "\n", 2, `to: "melted"`},
		{"no time", header + `{"kind":"call","guard":"g","result":"success"}` + "\n", 2, "at: missing"},
		{"future format", `{"kind":"header","format":2,"sampleEvery":1}` + "\n", 1, "format: 2"},
		{"sampling mismatch", header + call + `{"kind":"header","format":1,"sampleEvery":5}` + "\n", 3, "sampleEvery 5 differs"},
		{"huge sampling", `{"kind":"header","format":1,"sampleEvery":1000000000}` + "\n", 1, "sampleEvery: 1000000000"},
		{"long line", header + `{"kind":"call","guard":"` + strings.Repeat("x", record.MaxLineBytes) + "\"}\n", 2, "longer than"},
		{"long guard", header + `{"kind":"call","at":"2026-03-01T12:00:01Z","result":"success","guard":"` + strings.Repeat("x", record.MaxGuardBytes+1) + "\"}\n", 2, "guard: 1025 bytes"},
		{"bad utf-8", header + "{\"kind\":\"call\",\"guard\":\"\xff\"}\n", 2, "UTF-8"},
		{"too many events", header + call + call + call, 4, "more than 2 events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := record.Read(strings.NewReader(tc.in), 2)
			var le *record.LineError
			if !errors.As(err, &le) || le.Line != tc.line || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read = %v, want a LineError at line %d containing %q", err, tc.line, tc.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(header + call))
	f.Add([]byte(header + `{"kind":"state","at":"2026-03-01T12:00:01Z","guard":"g","from":"closed","to":"open"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := record.Read(bytes.NewReader(data), 100)
		if err == nil && len(rec.Events) > 100 {
			t.Fatalf("%d events past the limit", len(rec.Events))
		}
	})
}

func TestRecorderKeepsFilesOfAnEarlierRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rec-000000007.jsonl"), []byte(header+call), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := record.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	got := export(t, rec)
	if len(got.Events) != 1 || got.Events[0].Latency() != 5 {
		t.Fatalf("events = %+v, want the earlier run's call", got.Events)
	}
	if _, err := os.Stat(filepath.Join(dir, "rec-000000008.jsonl")); err != nil {
		t.Fatalf("the new file does not follow the earlier numbering: %v", err)
	}
}

func TestImportAddsARecordingWithinTheCap(t *testing.T) {
	src, _ := newRecorder(t)
	h := src.Hooks()
	for i := range 50 {
		h.OnDone(context.Background(), core.Completion{Guard: "imported", Result: breaker.Failure, Latency: time.Duration(i)})
	}
	var buf bytes.Buffer
	if err := src.Export(&buf); err != nil {
		t.Fatal(err)
	}
	dst, dir := newRecorder(t, record.WithMaxBytes(4<<10), record.WithFiles(2))
	dst.Hooks().OnDone(context.Background(), core.Completion{Guard: "live", Result: breaker.Success})
	in, err := record.Read(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Import(in); err != nil {
		t.Fatal(err)
	}
	if b := dirBytes(t, dir); b > 4<<10 {
		t.Fatalf("after the import the recording holds %d bytes, more than its cap", b)
	}
	got := export(t, dst)
	if last := got.Events[len(got.Events)-1]; last.Guard != "imported" || last.Latency() != 49 {
		t.Fatalf("the newest imported event is missing: last is %+v", last)
	}
	if err := dst.Import(&record.Recording{SampleEvery: 10}); err == nil || !strings.Contains(err.Error(), "1 in 10") {
		t.Fatalf("Import of a differently sampled recording = %v", err)
	}
}

// TestAttachedRecorderRecordsPolicyVersions: a Registry.Apply shows in the
// recording without anyone telling the recorder.
func TestAttachedRecorderRecordsPolicyVersions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, err := record.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Close()
		reg, err := core.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Attach(reg)()
		if _, err := reg.Apply(core.Document{Policies: []core.Policy{{Name: "p", Match: []string{"*"}}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		got := export(t, rec)
		var versions []uint64
		for _, e := range got.Events {
			if e.Kind == record.KindPolicy {
				versions = append(versions, e.Version)
				if e.Version == 1 && e.Hash == "" {
					t.Errorf("version 1 without its hash: %+v", e)
				}
			}
		}
		if len(versions) != 2 || versions[0] != 0 || versions[1] != 1 {
			t.Fatalf("policy versions recorded %v, want [0 1]", versions)
		}
	})
}
