package notify

import (
	"context"
	"log/slog"
	"time"
)

// Slog writes each event as a log record: level warn for opened and
// forced-open, info otherwise; message Event.Title; attributes event.id,
// event.type, rule, guard, from, to, reason, actor, failure_rate,
// incident.id, incident.duration and dashboard_url where set. Logging
// never fails, so events sent here are never retried.
type Slog struct {
	// Logger receives the records; nil means slog.Default().
	Logger *slog.Logger
}

// Send logs e.
func (s Slog) Send(ctx context.Context, e *Event) error {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	level := slog.LevelInfo
	if e.Type == Opened || e.Type == ForcedOpen {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("event.id", e.ID),
		slog.String("event.type", string(e.Type)),
		slog.String("rule", e.Rule),
		slog.String("guard", e.Guard),
		slog.String("from", e.From.String()),
		slog.String("to", e.To.String()),
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.Actor != "" {
		attrs = append(attrs, slog.String("actor", e.Actor))
	}
	if e.FailureRate != nil {
		attrs = append(attrs, slog.Float64("failure_rate", *e.FailureRate))
	}
	if e.IncidentID != "" {
		attrs = append(attrs, slog.String("incident.id", e.IncidentID))
	}
	if e.IncidentDuration > 0 {
		attrs = append(attrs, slog.Duration("incident.duration", time.Duration(e.IncidentDuration)))
	}
	if e.Suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", e.Suppressed))
	}
	if e.DashboardURL != "" {
		attrs = append(attrs, slog.String("dashboard_url", e.DashboardURL))
	}
	l.LogAttrs(ctx, level, e.Title(), attrs...)
	return nil
}
