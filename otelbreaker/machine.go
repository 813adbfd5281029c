package otelbreaker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/breakerbox/breakerbox/core"
)

// Custom states (core.MachinePolicy): a change of a guard's custom state is
// emitted through the Logs API as an event of its own, beside the breaker's
// state changes.

// MachineStateChangeEventName is the event name of the log record emitted
// when a guard's custom state changes (by its conditions, by an operator
// or by a reload).
const MachineStateChangeEventName = "breakerbox.machine.state_change"

var (
	// MachineStateKey is a guard's custom state, on machine state-change
	// events.
	MachineStateKey = attribute.Key("breakerbox.machine.state")
	// MachinePreviousStateKey is the custom state a guard left.
	MachinePreviousStateKey = attribute.Key("breakerbox.machine.previous_state")
)

// onMachineChange emits the machine state-change log event (severity
// INFO). The hook has no call's context: machine changes carry no trace.
func (in *Instrumentation) onMachineChange(ctx context.Context, e core.MachineChange) {
	if in.closed.Load() || !in.logger.Enabled(ctx, log.EnabledParameters{Severity: log.SeverityInfo, EventName: MachineStateChangeEventName}) {
		return
	}
	gi := in.info(e.Guard)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, gi.attrs...)
	attrs = append(attrs, MachineStateKey.String(e.To), MachinePreviousStateKey.String(e.From))
	if e.Reason != "" {
		attrs = append(attrs, ReasonKey.String(e.Reason))
	}
	if e.Actor != "" {
		attrs = append(attrs, ActorKey.String(e.Actor))
	}
	var rec log.Record
	rec.SetEventName(MachineStateChangeEventName)
	if !e.At.IsZero() {
		rec.SetTimestamp(e.At)
	}
	rec.SetSeverity(log.SeverityInfo)
	rec.SetSeverityText("INFO")
	rec.SetBody(attribute.StringValue("custom state of " + quote(e.Guard) + ": " + e.From + " -> " + e.To))
	rec.AddAttributes(attrs...)
	in.logger.Emit(ctx, rec)
}
