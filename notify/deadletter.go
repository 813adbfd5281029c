package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DeadLetter records an event a channel did not deliver: its last attempt
// failed (or failed permanently), it was dropped from the channel's full
// queue (Err matches ErrQueueFull), or Close gave up on it (ErrClosed). The
// event is complete, so it can be replayed.
type DeadLetter struct {
	// Channel is the name of the channel.
	Channel string
	// Event is the event that was not delivered.
	Event Event
	// Attempts is how many delivery attempts were made (0 if none).
	Attempts int
	// Err is why: the last attempt's error, ErrQueueFull or ErrClosed.
	// URLs in its message are reduced to scheme://host (the notifier wraps
	// a channel's error that names one; errors.Is and errors.As still see
	// the original).
	Err error
	// At is when the event was given up.
	At time.Time
}

// MarshalJSON encodes the record with Err as its message:
// {"channel", "event", "attempts", "error", "at"}.
func (d DeadLetter) MarshalJSON() ([]byte, error) {
	msg := ""
	if d.Err != nil {
		msg = d.Err.Error()
	}
	return json.Marshal(struct {
		Channel  string    `json:"channel"`
		Event    *Event    `json:"event"`
		Attempts int       `json:"attempts"`
		Error    string    `json:"error"`
		At       time.Time `json:"at"`
	}{d.Channel, &d.Event, d.Attempts, msg, d.At})
}

// DeadLetterSink receives the events channels did not deliver. It is called
// from the notifier's goroutines, possibly several at once; it must be safe
// for concurrent use and should be quick.
type DeadLetterSink interface {
	DeadLetter(d DeadLetter)
}

// DeadLetterFunc adapts a function to DeadLetterSink.
type DeadLetterFunc func(d DeadLetter)

// DeadLetter calls f(d).
func (f DeadLetterFunc) DeadLetter(d DeadLetter) { f(d) }

// JSONLines returns a sink that writes each dead letter to w as one line of
// JSON (see DeadLetter.MarshalJSON), serialising writes. Point it at a file
// to keep a durable record that can be replayed. Write errors are dropped.
func JSONLines(w io.Writer) DeadLetterSink {
	return &jsonLines{w: w}
}

type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonLines) DeadLetter(d DeadLetter) {
	b, err := json.Marshal(d)
	if err != nil {
		return
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.w.Write(b)
}

// logDeadLetters is the default sink: an error record on the notifier's
// logger.
func logDeadLetters(l *slog.Logger) DeadLetterSink {
	return DeadLetterFunc(func(d DeadLetter) {
		level := slog.LevelError
		if errors.Is(d.Err, ErrClosed) {
			level = slog.LevelWarn
		}
		l.LogAttrs(context.Background(), level, "notify: event not delivered",
			slog.String("channel", d.Channel),
			slog.String("event.id", d.Event.ID),
			slog.String("event.type", string(d.Event.Type)),
			slog.String("guard", d.Event.Guard),
			slog.Int("attempts", d.Attempts),
			slog.Any("error", d.Err))
	})
}
