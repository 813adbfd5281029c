package admin

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/record"
)

func TestRecordingExportImport(t *testing.T) {
	reg := testRegistry(t)
	rec, err := record.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	defer rec.Attach(reg)()
	a := newTestAPIFor(t, reg, WithRecorder(rec))
	reg.MustGuard("search").ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})

	res := a.do(http.MethodGet, "/v1/recording", readSecret, nil)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/jsonl" {
		t.Fatalf("export: status %d, type %q: %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	got, err := record.Read(bytes.NewReader(res.body), 0)
	if err != nil {
		t.Fatalf("the export does not read back: %v", err)
	}
	if !hasState(got, "search", "forced-open") {
		t.Fatalf("the export lacks the override: %+v", got.Events)
	}

	other := `{"kind":"header","format":1,"sampleEvery":1}
{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"imported","result":"failure","latencyNs":5}
`
	a.do(http.MethodPost, "/v1/recording?reason=incident+42", readSecret, other).problem(t, http.StatusForbidden, codeForbidden)
	a.do(http.MethodPost, "/v1/recording", aliceSecret, other).problem(t, http.StatusBadRequest, codeInvalid)
	p := a.do(http.MethodPost, "/v1/recording?reason=x", aliceSecret, other+`{"kind":"call"`).problem(t, http.StatusBadRequest, codeInvalid)
	if !strings.Contains(p.Detail, "line 3") {
		t.Fatalf("a truncated recording's problem does not name line 3: %q", p.Detail)
	}
	var out RecordingImportResult
	a.do(http.MethodPost, "/v1/recording?reason=incident+42", aliceSecret, other).ok(t, &out)
	if out.Events != 1 || out.AuditSeq == 0 {
		t.Fatalf("import result %+v", out)
	}
	recs := a.audit("").Records
	last := recs[len(recs)-1]
	if last.Op != OpRecordingImport || last.Actor != "alice" || last.Reason != "incident 42" || last.Params["events"] != "1" {
		t.Fatalf("audit record %+v", last)
	}
	res = a.do(http.MethodGet, "/v1/recording", readSecret, nil)
	got, err = record.Read(bytes.NewReader(res.body), 0)
	if err != nil || got.Events[len(got.Events)-1].Guard != "imported" {
		t.Fatalf("the imported event is not in the recording: %v", err)
	}
}

func TestRecordingWithoutRecorderIsNotImplemented(t *testing.T) {
	a := newTestAPI(t)
	a.do(http.MethodGet, "/v1/recording", readSecret, nil).problem(t, http.StatusNotImplemented, codeNoRecorder)
	a.do(http.MethodPost, "/v1/recording?reason=x", aliceSecret, "").problem(t, http.StatusNotImplemented, codeNoRecorder)
}

func hasState(rec *record.Recording, guard, to string) bool {
	for _, e := range rec.Events {
		if e.Kind == record.KindState && e.Guard == guard && e.To == to {
			return true
		}
	}
	return false
}
