package otelbreaker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// onReject records a rejection on the span of the rejected call.
func (in *Instrumentation) onReject(ctx context.Context, r core.Rejection) {
	if in.closed.Load() {
		return
	}
	if in.retries != nil && in.retries.open.Load() > 0 {
		in.retries.finish(ctx, r.Guard, "rejected", r.Err.ErrorType(), true, r.Err.Error())
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	gi := in.info(r.Guard)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, gi.attrs...)
	attrs = append(attrs, OutcomeKey.String("rejected"), ErrorTypeKey.String(r.Err.ErrorType()))
	if g, ok := in.reg.Lookup(r.Guard); ok {
		attrs = append(attrs, StateKey.String(g.Breaker().State().String()))
	}
	if d := r.Err.RetryAfter(); d > 0 {
		attrs = append(attrs, RetryAfterKey.Float64(d.Seconds()))
	}
	span.SetAttributes(attrs...)
	if errorStatusAllowed(span) {
		span.SetStatus(codes.Error, r.Err.Error())
	}
}

// errorStatusAllowed reports whether a rejection may set the span's status
// to Error. OTel's HTTP and RPC conventions leave a server span's status to
// the response (5xx is an error, 4xx is not), which the server
// instrumentation (otelhttp, otelgrpc) sets from the status the adapter
// answers; every other kind of span describes an operation that failed.
// The kind is read from the SDK's span (ReadOnlySpan.SpanKind); a span that
// does not tell is left alone.
func errorStatusAllowed(span trace.Span) bool {
	k, ok := span.(interface{ SpanKind() trace.SpanKind })
	if !ok {
		return false
	}
	return k.SpanKind() != trace.SpanKindServer
}

// onStateChange emits the state-change log event and mirrors it on the span
// of the call that caused it.
func (in *Instrumentation) onStateChange(ctx context.Context, e core.StateChange) {
	if in.closed.Load() {
		return
	}
	gi := in.info(e.Guard)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, gi.attrs...)
	attrs = append(attrs, StateKey.String(e.To.String()), PreviousStateKey.String(e.From.String()))
	if e.Reason != "" {
		attrs = append(attrs, ReasonKey.String(e.Reason))
	}
	if e.Actor != "" {
		attrs = append(attrs, ActorKey.String(e.Actor))
	}
	sev, sevText := log.SeverityInfo, "INFO"
	if e.To == breaker.Open || e.To == breaker.ForcedOpen {
		sev, sevText = log.SeverityWarn, "WARN"
	}
	if in.logger.Enabled(ctx, log.EnabledParameters{Severity: sev, EventName: StateChangeEventName}) {
		var rec log.Record
		rec.SetEventName(StateChangeEventName)
		if !e.At.IsZero() {
			rec.SetTimestamp(e.At)
		}
		rec.SetSeverity(sev)
		rec.SetSeverityText(sevText)
		rec.SetBody(attribute.StringValue("circuit breaker " + quote(e.Guard) + " " + e.Transition.String()))
		rec.AddAttributes(attrs...)
		in.logger.Emit(ctx, rec)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		opts := []trace.EventOption{trace.WithAttributes(attrs...)}
		if !e.At.IsZero() {
			opts = append(opts, trace.WithTimestamp(e.At))
		}
		span.AddEvent(StateChangeEventName, opts...)
	}
}

// onDone records the call's duration and ends its retry span.
func (in *Instrumentation) onDone(ctx context.Context, c core.Completion) {
	if in.closed.Load() {
		return
	}
	r := int(c.Result)
	if r >= len(resultNames) {
		return
	}
	if in.retries != nil && in.retries.open.Load() > 0 {
		et := ""
		if c.Result != breaker.Success {
			et = errorType(c.Err)
		}
		msg := ""
		if c.Err != nil && c.Result == breaker.Failure {
			msg = c.Err.Error()
		}
		in.retries.finish(ctx, c.Guard, resultNames[r], et, c.Result == breaker.Failure, msg)
	}
	if in.duration == nil {
		return
	}
	gi := in.info(c.Guard)
	opts := gi.durOpts[r]
	if c.Result != breaker.Success && c.Err != nil {
		if et := errorType(c.Err); et != "_OTHER" {
			opts = gi.errOptions(uint8(r), et)
		}
	}
	in.duration.Record(ctx, c.Latency.Seconds(), opts...)
}

// errorType is core.ErrorType, with context errors named: a deadline
// (an attempt timeout, say) is "timeout" and a cancellation "canceled".
func errorType(err error) string {
	if err == nil {
		return "_OTHER"
	}
	t := core.ErrorType(err)
	if t != "_OTHER" {
		return t
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return t
}

// errOptions returns the histogram options for a non-success with error
// type et, building them once per guard, result and type; past
// maxErrorTypes types the "_OTHER" options serve.
func (gi *guardInfo) errOptions(r uint8, et string) []metric.RecordOption {
	k := errKey{result: r, errType: et}
	if o, ok := (*gi.errOpts.Load())[k]; ok {
		return o
	}
	gi.errMu.Lock()
	defer gi.errMu.Unlock()
	cur := *gi.errOpts.Load()
	if o, ok := cur[k]; ok {
		return o
	}
	if len(cur) >= maxErrorTypes {
		return gi.durOpts[r]
	}
	set := attribute.NewSet(GuardKey.String(gi.name), PolicyKey.String(gi.policy), OutcomeKey.String(resultNames[r]), ErrorTypeKey.String(et))
	o := []metric.RecordOption{metric.WithAttributeSet(set)}
	next := make(map[errKey][]metric.RecordOption, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = o
	gi.errOpts.Store(&next)
	return o
}

// onRetry starts a retry span (WithRetrySpans).
func (in *Instrumentation) onRetry(ctx context.Context, a core.RetryAttempt) {
	if in.closed.Load() {
		return
	}
	parent := trace.SpanContextFromContext(ctx)
	if !parent.IsValid() {
		return
	}
	key := retryKey{trace: parent.TraceID(), span: parent.SpanID(), guard: a.Guard}
	// The previous attempt normally ended its span through OnDone or
	// OnReject; one that ended otherwise (its context ended while it was
	// queued in a bulkhead) is ended here, with the error Do saw.
	if a.Err != nil {
		in.retries.finishKey(key, "", errorType(a.Err), false, "")
	} else {
		in.retries.finishKey(key, "", "", false, "")
	}
	gi := in.info(a.Guard)
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, gi.attrs...)
	attrs = append(attrs, AttemptKey.Int(a.Number), RetryDelayKey.Float64(a.Delay.Seconds()))
	_, span := in.tracer.Start(ctx, RetrySpanName, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if !span.IsRecording() {
		span.End()
		return
	}
	in.retries.add(ctx, key, span)
}

// maxOpenRetrySpans bounds the retry spans waiting for their attempt to
// end; past it the oldest-looking one is ended early.
const maxOpenRetrySpans = 4096

type retryKey struct {
	trace trace.TraceID
	span  trace.SpanID
	guard string
}

type openRetry struct {
	span trace.Span
	stop func() bool
}

// retrySpans tracks the retry spans whose attempt is running, keyed by the
// parent span and the guard: the hooks that end an attempt get the call's
// context, whose active span is the parent.
type retrySpans struct {
	open  atomic.Int64
	mu    sync.Mutex
	spans map[retryKey]openRetry
}

func newRetrySpans() *retrySpans {
	return &retrySpans{spans: map[retryKey]openRetry{}}
}

func (rs *retrySpans) add(ctx context.Context, key retryKey, span trace.Span) {
	rs.mu.Lock()
	if len(rs.spans) >= maxOpenRetrySpans {
		for k, o := range rs.spans {
			delete(rs.spans, k)
			o.stop()
			o.span.End()
			break
		}
	}
	// End the span when the call's context ends first (the caller gave up,
	// a total timeout): the attempt is over for the caller.
	stop := context.AfterFunc(ctx, func() {
		rs.mu.Lock()
		o, ok := rs.spans[key]
		if ok && o.span == span {
			delete(rs.spans, key)
			rs.open.Store(int64(len(rs.spans)))
		} else {
			ok = false
		}
		rs.mu.Unlock()
		if ok {
			span.End()
		}
	})
	rs.spans[key] = openRetry{span: span, stop: stop}
	rs.open.Store(int64(len(rs.spans)))
	rs.mu.Unlock()
}

// finish ends the retry span of the call whose context is ctx, if any.
func (rs *retrySpans) finish(ctx context.Context, guard, outcome, errType string, failed bool, msg string) {
	parent := trace.SpanContextFromContext(ctx)
	if !parent.IsValid() {
		return
	}
	rs.finishKey(retryKey{trace: parent.TraceID(), span: parent.SpanID(), guard: guard}, outcome, errType, failed, msg)
}

func (rs *retrySpans) finishKey(key retryKey, outcome, errType string, failed bool, msg string) {
	rs.mu.Lock()
	o, ok := rs.spans[key]
	if ok {
		delete(rs.spans, key)
		rs.open.Store(int64(len(rs.spans)))
	}
	rs.mu.Unlock()
	if !ok {
		return
	}
	o.stop()
	if outcome != "" {
		o.span.SetAttributes(OutcomeKey.String(outcome))
	}
	if errType != "" {
		o.span.SetAttributes(ErrorTypeKey.String(errType))
	}
	if failed {
		o.span.SetStatus(codes.Error, msg)
	}
	o.span.End()
}

func (rs *retrySpans) endAll() {
	rs.mu.Lock()
	spans := rs.spans
	rs.spans = map[retryKey]openRetry{}
	rs.open.Store(0)
	rs.mu.Unlock()
	for _, o := range spans {
		o.stop()
		o.span.End()
	}
}

// quote returns s in double quotes, without escaping (guard names are
// plain text).
func quote(s string) string { return `"` + s + `"` }

// TraceID returns the trace id of the span context in ctx, as 32 lowercase
// hex digits, or "" when ctx holds no valid span context or its trace is
// not sampled (an unsampled trace is not exported, so no APM could show
// it). It is the trace-id reader admin.WithTraceLinks takes, for links
// from the dashboard to the traces of the calls that tripped or were
// rejected by a guard:
//
//	admin.New(reg, admin.WithTraceLinks("http://localhost:16686/trace/{traceId}", otelbreaker.TraceID))
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	return sc.TraceID().String()
}
