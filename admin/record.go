package admin

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/record"
)

// The recording endpoints (see package record):
//
//	GET  /v1/recording   read access: the whole recording, JSON Lines
//	                     (application/jsonl), as record.Recorder.Export
//	                     writes it
//	POST /v1/recording   write access: add a recording (the request body,
//	                     JSON Lines) to this server's, with ?reason=...
//	                     for the audit log (OpRecordingImport)
//
// A refused recording is answered 400 with the line named. Without
// WithRecorder both answer 501.

// OpRecordingImport is the audit log's operation for POST /v1/recording.
const OpRecordingImport = wire.OpRecordingImport // wire.OpRecordingImport

const codeNoRecorder = "recording_not_configured"

// RecordingImportResult answers POST /v1/recording.
type RecordingImportResult = wire.RecordingImportResult

// WithRecorder serves rec's recording at /v1/recording: export with read
// access, import with write access (audited).
func WithRecorder(rec *record.Recorder) Option {
	return optionFunc(func(c *config) error {
		if rec == nil {
			return errors.New("admin: WithRecorder: the recorder must not be nil")
		}
		c.recorder = rec
		return nil
	})
}

func (s *Server) recorder(w http.ResponseWriter, r *http.Request) (*record.Recorder, bool) {
	if s.cfg.recorder == nil {
		writeProblem(w, r, problem(http.StatusNotImplemented, codeNoRecorder, "this admin API serves no recording: the server was built without admin.WithRecorder"))
		return nil, false
	}
	return s.cfg.recorder, true
}

func (s *Server) exportRecording(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	rec, ok := s.recorder(w, r)
	if !ok {
		return
	}
	// Streamed, file by file, so that an export costs the server no more
	// memory than a copy buffer however large the recording. A failure
	// before the first byte answers a problem; one later cuts the body
	// short, which record.Read (and so breakerctl) refuses as truncated.
	if err := rec.Flush(); err != nil {
		writeProblem(w, r, problem(http.StatusServiceUnavailable, codeInternal, "exporting the recording: "+err.Error()))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jsonl")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	if err := rec.Export(w); err != nil {
		s.cfg.logger.Error("breakerbox admin: recording export cut short", "err", err)
	}
}

func (s *Server) importRecording(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return
	}
	rec, ok := s.recorder(w, r)
	if !ok {
		return
	}
	reason := r.URL.Query().Get("reason")
	if p := checkReason(reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	body := http.MaxBytesReader(w, r.Body, rec.MaxBytes())
	counted := &countingReader{r: body}
	in, err := record.Read(counted, 0)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, r, problem(http.StatusRequestEntityTooLarge, codeInvalid, "recording: larger than this server's recording cap of "+strconv.FormatInt(rec.MaxBytes(), 10)+" bytes"))
			return
		}
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, err.Error()))
		return
	}
	if in.SampleEvery != rec.SampleEvery() {
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "recording: samples 1 in "+strconv.Itoa(in.SampleEvery)+" calls, this server's 1 in "+strconv.Itoa(rec.SampleEvery())))
		return
	}
	a := AuditRecord{Actor: who.name, Op: OpRecordingImport, Reason: reason,
		Params: map[string]string{"events": strconv.Itoa(len(in.Events)), "bytes": strconv.FormatInt(counted.n, 10)}}
	if p := s.audit(r.Context(), &a, nil); p != nil {
		writeProblem(w, r, p)
		return
	}
	if err := rec.Import(in); err != nil {
		writeProblem(w, r, problem(http.StatusInternalServerError, codeInternal, "importing the recording: "+err.Error()))
		return
	}
	writeJSON(w, r, http.StatusOK, RecordingImportResult{Events: len(in.Events), AuditSeq: a.Seq})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
