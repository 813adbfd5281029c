package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// Format is the version of the recording format this package writes and
// reads.
const Format = 1

// Limits a recording's lines are held to, when written and when read.
const (
	// MaxLineBytes is the longest line, newline included.
	MaxLineBytes = 16 << 10
	// MaxGuardBytes is the longest guard name.
	MaxGuardBytes = 1024
	// MaxTextBytes is the longest reason, actor or hash; the recorder
	// shortens longer ones.
	MaxTextBytes = 2048
	// MaxLatency is the longest call latency a recording may hold.
	MaxLatency = 24 * time.Hour
	// MaxSampleEvery is the sparsest sampling: one call in MaxSampleEvery.
	MaxSampleEvery = 1_000_000
	// DefaultMaxEvents is how many events Read accepts when not told:
	// more than a DefaultMaxBytes recording holds, and about 250 MB read.
	DefaultMaxEvents = 1 << 20
)

// Kind is what an event records.
type Kind string

// The kinds of event.
const (
	// KindHeader starts every file: Format and SampleEvery.
	KindHeader Kind = "header"
	// KindCall is a finished call: Guard, Result, LatencyNs; At is when it
	// finished.
	KindCall Kind = "call"
	// KindReject is a rejected call: Guard and Reason (the rejection's
	// error type, such as "circuit_open" or "rate_limited").
	KindReject Kind = "reject"
	// KindState is a state change: Guard, From, To, Reason, and Actor for
	// a manual change (an override).
	KindState Kind = "state"
	// KindPolicy is the live policy document's Version and Hash.
	KindPolicy Kind = "policy"
	// KindDrop counts events dropped since the last KindDrop: Count.
	KindDrop Kind = "drop"
)

// Event is one line of a recording. Which fields are set depends on Kind.
type Event struct {
	Kind Kind      `json:"kind"`
	At   time.Time `json:"at"`
	// Guard is the guard's name (call, reject, state).
	Guard string `json:"guard,omitempty"`
	// Result is "success", "failure" or "ignore" (call).
	Result string `json:"result,omitempty"`
	// LatencyNs is the call's latency in nanoseconds (call).
	LatencyNs int64 `json:"latencyNs,omitempty"`
	// Reason is the rejection's error type (reject) or the transition's
	// reason (state).
	Reason string `json:"reason,omitempty"`
	// From and To are state names, such as "closed" and "open" (state).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Actor is who made a manual change (state); empty for automatic ones.
	Actor string `json:"actor,omitempty"`
	// Version and Hash name a policy document (policy).
	Version uint64 `json:"version,omitempty"`
	Hash    string `json:"hash,omitempty"`
	// Count is the number of events dropped (drop).
	Count uint64 `json:"count,omitempty"`
	// Format and SampleEvery describe the recording (header).
	Format      int `json:"format,omitempty"`
	SampleEvery int `json:"sampleEvery,omitempty"`
}

// Latency returns LatencyNs as a duration.
func (e *Event) Latency() time.Duration { return time.Duration(e.LatencyNs) }

// Recording is a recording read back.
type Recording struct {
	// SampleEvery is the sampling the recording was made with: 1 means
	// every call and rejection is in it, N one in N.
	SampleEvery int
	// Events are the events in the order read, headers left out.
	Events []Event
	// Lines[i] is the line Events[i] was read from.
	Lines []int
}

// LineError is a recording refused because of one line.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("record: line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// Read reads a recording, refusing it with a *LineError at the first line
// that is not right (see the package documentation). maxEvents bounds the
// events accepted (DefaultMaxEvents when 0 or less), so that a hostile
// recording cannot exhaust memory. Several recordings concatenated (as
// Recorder.Export writes them, one header per file) read as one, provided
// they were made with the same sampling.
func Read(r io.Reader, maxEvents int) (*Recording, error) {
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	br := bufio.NewReaderSize(r, MaxLineBytes)
	rec := &Recording{}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			return nil, &LineError{n, fmt.Errorf("longer than %d bytes", MaxLineBytes)}
		case err == io.EOF && len(line) == 0:
			if n == 1 {
				return nil, &LineError{1, errors.New("empty recording: want a header line")}
			}
			return rec, nil
		case err == io.EOF:
			return nil, &LineError{n, errors.New("truncated: the last line has no newline")}
		case err != nil:
			return nil, fmt.Errorf("record: line %d: %w", n, err)
		}
		e, err := parseLine(line)
		if err == nil {
			err = rec.add(e, n, maxEvents)
		}
		if err != nil {
			return nil, &LineError{n, err}
		}
	}
}

func parseLine(line []byte) (Event, error) {
	var e Event
	if !utf8.Valid(line) {
		return e, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not a recording event: %v", err)
	}
	if dec.More() {
		return e, errors.New("more than one JSON value on the line")
	}
	return e, e.validate()
}

func (rec *Recording) add(e Event, n, maxEvents int) error {
	if e.Kind == KindHeader {
		if rec.SampleEvery != 0 && e.SampleEvery != rec.SampleEvery {
			return fmt.Errorf("sampleEvery %d differs from the recording's %d", e.SampleEvery, rec.SampleEvery)
		}
		rec.SampleEvery = e.SampleEvery
		return nil
	}
	if rec.SampleEvery == 0 {
		return fmt.Errorf("kind %q before the header line", e.Kind)
	}
	if len(rec.Events) >= maxEvents {
		return fmt.Errorf("more than %d events", maxEvents)
	}
	rec.Events = append(rec.Events, e)
	rec.Lines = append(rec.Lines, n)
	return nil
}

// validate checks an event's fields for its kind.
func (e *Event) validate() error {
	if e.At.IsZero() && e.Kind != KindHeader {
		return errors.New("at: missing")
	}
	if !e.At.IsZero() && (e.At.Year() < 1970 || e.At.Year() > 9999) {
		return fmt.Errorf("at: %s is out of range [1970, 9999]", e.At.Format(time.RFC3339))
	}
	for _, f := range []struct{ name, v string }{{"reason", e.Reason}, {"actor", e.Actor}, {"hash", e.Hash}} {
		if len(f.v) > MaxTextBytes {
			return fmt.Errorf("%s: %d bytes, longer than %d", f.name, len(f.v), MaxTextBytes)
		}
	}
	needGuard := false
	switch e.Kind {
	case KindHeader:
		if e.Format != Format {
			return fmt.Errorf("format: %d is not a format this reader knows (want %d)", e.Format, Format)
		}
		if e.SampleEvery < 1 || e.SampleEvery > MaxSampleEvery {
			return fmt.Errorf("sampleEvery: %d is out of range [1, %d]", e.SampleEvery, MaxSampleEvery)
		}
	case KindCall:
		needGuard = true
		if _, ok := parseResult(e.Result); !ok {
			return fmt.Errorf("result: %q is not success, failure or ignore", e.Result)
		}
		if e.LatencyNs < 0 || e.LatencyNs > int64(MaxLatency) {
			return fmt.Errorf("latencyNs: %d is out of range [0, %d]", e.LatencyNs, int64(MaxLatency))
		}
	case KindReject:
		needGuard = true
	case KindState:
		needGuard = true
		for _, f := range []struct{ name, v string }{{"from", e.From}, {"to", e.To}} {
			if _, err := breaker.ParseState(f.v); err != nil {
				return fmt.Errorf("%s: %q is not a breaker state", f.name, f.v)
			}
		}
	case KindPolicy, KindDrop:
	default:
		return fmt.Errorf("kind: %q is not header, call, reject, state, policy or drop", e.Kind)
	}
	if needGuard && e.Guard == "" {
		return fmt.Errorf("guard: missing for kind %q", e.Kind)
	}
	if len(e.Guard) > MaxGuardBytes {
		return fmt.Errorf("guard: %d bytes, longer than %d", len(e.Guard), MaxGuardBytes)
	}
	return nil
}

// ResultValue returns a call event's Result as a breaker.Result.
func (e *Event) ResultValue() breaker.Result {
	r, _ := parseResult(e.Result)
	return r
}

func parseResult(s string) (breaker.Result, bool) {
	switch s {
	case "success":
		return breaker.Success, true
	case "failure":
		return breaker.Failure, true
	case "ignore":
		return breaker.Ignore, true
	}
	return 0, false
}
