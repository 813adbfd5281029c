package otelbreaker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/core"
)

// HedgeEventName is the name of the span event recorded on a call's span
// when its guard starts a hedge of it (see core.HedgePolicy).
const HedgeEventName = "breakerbox.hedge"

// Attributes of the hedge span event, besides the guard and policy names.
var (
	// HedgeNumberKey is the hedge's number within its call, from 1.
	HedgeNumberKey = attribute.Key("breakerbox.hedge.number")
	// HedgeDelayKey is the hedge delay in force, in seconds.
	HedgeDelayKey = attribute.Key("breakerbox.hedge.delay")
)

// onHedge records a hedge as an event on the span of the hedged call.
func (in *Instrumentation) onHedge(ctx context.Context, e core.HedgeEvent) {
	if in.closed.Load() {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	gi := in.info(e.Guard)
	attrs := make([]attribute.KeyValue, 0, len(gi.attrs)+2)
	attrs = append(attrs, gi.attrs...)
	attrs = append(attrs, HedgeNumberKey.Int(e.N), HedgeDelayKey.Float64(e.Delay.Seconds()))
	span.AddEvent(HedgeEventName, trace.WithAttributes(attrs...))
}
