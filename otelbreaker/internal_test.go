package otelbreaker

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/retry"
)

func retryEnv(t *testing.T) (*Instrumentation, *tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	in, err := Instrument(reg, WithTracerProvider(tp), WithRetrySpans())
	if err != nil {
		t.Fatal(err)
	}
	return in, rec, tp
}

func retrySpansEnded(rec *tracetest.SpanRecorder) int {
	n := 0
	for _, s := range rec.Ended() {
		if s.Name() == RetrySpanName {
			n++
		}
	}
	return n
}

// A retry span whose attempt never reports (its context ended while it was
// queued, say) ends when the call's context ends.
func TestRetrySpanEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in, rec, tp := retryEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		ctx, parent := tp.Tracer("test").Start(ctx, "op")
		in.onRetry(ctx, core.RetryAttempt{Guard: "g", Attempt: retry.Attempt{Number: 2, Err: errors.New("x")}})
		if n := retrySpansEnded(rec); n != 0 {
			t.Fatalf("%d retry spans ended before the attempt did", n)
		}
		cancel()
		synctest.Wait()
		if n := retrySpansEnded(rec); n != 1 {
			t.Fatalf("%d retry spans ended after the context did, want 1", n)
		}
		if in.retries.open.Load() != 0 {
			t.Errorf("retry span still tracked")
		}
		parent.End()
	})
}

// The next retry of the same call ends the previous attempt's span.
func TestRetrySpanEndedByNextRetry(t *testing.T) {
	in, rec, tp := retryEnv(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "op")
	defer parent.End()
	in.onRetry(ctx, core.RetryAttempt{Guard: "g", Attempt: retry.Attempt{Number: 2}})
	in.onRetry(ctx, core.RetryAttempt{Guard: "g", Attempt: retry.Attempt{Number: 3, Err: context.DeadlineExceeded}})
	if n := retrySpansEnded(rec); n != 1 {
		t.Fatalf("%d retry spans ended, want 1", n)
	}
	if a := rec.Ended()[0].Attributes(); len(a) == 0 {
		t.Fatal("no attributes")
	}
	var et string
	for _, kv := range rec.Ended()[0].Attributes() {
		if kv.Key == ErrorTypeKey {
			et = kv.Value.AsString()
		}
	}
	if et != "timeout" {
		t.Errorf("error.type %q, want timeout", et)
	}
	if err := in.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := retrySpansEnded(rec); n != 2 {
		t.Fatalf("%d retry spans ended after Shutdown, want 2", n)
	}
}

// Retry spans waiting for their attempt are bounded.
func TestRetrySpansBounded(t *testing.T) {
	in, rec, tp := retryEnv(t)
	tr := tp.Tracer("test")
	for range maxOpenRetrySpans + 10 {
		ctx, parent := tr.Start(context.Background(), "op")
		in.onRetry(ctx, core.RetryAttempt{Guard: "g", Attempt: retry.Attempt{Number: 2}})
		parent.End()
	}
	if n := in.retries.open.Load(); n > maxOpenRetrySpans {
		t.Errorf("%d retry spans open, want at most %d", n, maxOpenRetrySpans)
	}
	if n := retrySpansEnded(rec); n != 10 {
		t.Errorf("%d retry spans ended early, want 10", n)
	}
}

// Without a span in the context there is no parent, so no retry span.
func TestRetrySpanNeedsParent(t *testing.T) {
	in, rec, _ := retryEnv(t)
	in.onRetry(context.Background(), core.RetryAttempt{Guard: "g", Attempt: retry.Attempt{Number: 2}})
	_ = in.Shutdown(context.Background())
	if len(rec.Ended()) != 0 || len(rec.Started()) != 0 {
		t.Errorf("a retry span was made without a parent")
	}
}
