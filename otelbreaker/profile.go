package otelbreaker

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// SpanIDLabel is the runtime/pprof label SpanProfilerLabels sets: the key
// Pyroscope's span profiles (and the OTel profiling integrations modelled on
// them) read to link a profile's samples to a span.
const SpanIDLabel = "span_id"

// SpanProfilerLabels returns the pprof label pairs linking a guarded call's
// profile samples to the span active in ctx: SpanIDLabel and the span id in
// hex. It returns nil when ctx carries no valid span. Pass it to
// core.WithProfilerLabels, which adds the guard's name:
//
//	reg, err := core.NewRegistry(core.WithProfilerLabels(otelbreaker.SpanProfilerLabels))
//
// CPU samples taken while a guarded function runs then carry
// breakerbox_guard=<guard> and span_id=<span id>.
func SpanProfilerLabels(ctx context.Context) []string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []string{SpanIDLabel, sc.SpanID().String()}
}
