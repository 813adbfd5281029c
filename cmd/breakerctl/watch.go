package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// status --watch follows the admin API's event stream (GET /v1/events) and
// redraws as soon as it announces a change: a state change, guards
// appearing or pruned, an operation. It also redraws every --interval, for
// the counters, which change with every call. A server that refuses the
// stream (its stream caps answer 429 or 503; an older server has none) is
// polled every --interval instead, and asked for the stream again every
// streamRetry; a stream that drops is reconnected, polling meanwhile.

// redrawOn are the stream's events that change what status shows.
var redrawOn = map[string]bool{"state": true, "guards": true, "audit": true}

const (
	// streamRetry is how long after a refusal the stream is asked for
	// again.
	streamRetry = time.Minute
	// maxReconnect caps the backoff between reconnections of a stream
	// that dropped.
	maxReconnect = 30 * time.Second
	// minSilence is the least silence that ends a stream as dead; a live
	// stream sends rates every push interval.
	minSilence = 15 * time.Second
	// maxEventLine bounds one line of the stream (the hello lists every
	// guard).
	maxEventLine = 64 << 20
)

// streamRefusedError is a server's refusal of the event stream.
type streamRefusedError struct {
	status string
	detail string
}

func (e *streamRefusedError) Error() string {
	if e.detail == "" {
		return e.status
	}
	return e.status + ": " + e.detail
}

// follow reads the admin API's event stream until ctx ends or the stream
// does. It calls subscribed when the stream's hello has come (from then on
// the server sends every change) and sends on changed, without blocking,
// for every event in redrawOn. The hello must come within timeout, and
// then an event at least every three push intervals (minSilence at
// least), or the stream is taken for dead. It returns a
// *streamRefusedError when the server answers with anything but an event
// stream.
func (c *client) follow(ctx context.Context, timeout time.Duration, subscribed func(), changed chan<- struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dead := time.AfterFunc(timeout, cancel)
	defer dead.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", "breakerctl")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// The stream lives as long as the watch: no overall timeout, the
	// watchdog above instead.
	hc := &http.Client{Transport: c.hc.Transport}
	res, err := hc.Do(req)
	if err != nil {
		return unwrapURLError(err)
	}
	defer res.Body.Close()
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode != http.StatusOK || mt != "text/event-stream" {
		refusal := &streamRefusedError{status: res.Status}
		data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		var p wire.Problem
		if json.Unmarshal(data, &p) == nil {
			refusal.detail = p.Detail
		}
		if res.StatusCode == http.StatusOK {
			refusal.detail = "the answer is " + mt + ", not an event stream"
		}
		return refusal
	}
	silence := timeout
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:") && event == "hello":
			var h struct {
				PushInterval core.Duration `json:"pushInterval"`
			}
			if json.Unmarshal([]byte(strings.TrimSpace(line[len("data:"):])), &h) == nil {
				silence = max(3*time.Duration(h.PushInterval), minSilence)
			}
		case line == "" && event != "":
			dead.Reset(silence)
			if event == "hello" {
				subscribed()
			} else if redrawOn[event] {
				select {
				case changed <- struct{}{}:
				default: // a redraw is pending already
				}
			}
			event = ""
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	return errors.New("the event stream ended")
}

// watch renders the status, then again on every change the event stream
// announces and every interval, until ctx ends (an interrupt), which is a
// normal exit. On a terminal the screen is redrawn; elsewhere each refresh
// is appended. A failed refresh after the first is reported and retried.
func (a *app) watch(ctx context.Context, c *client, interval time.Duration, asJSON bool, render func(context.Context, io.Writer) error) error {
	term := isTerminal(a.stdout) && !asJSON
	ctx, cancel := context.WithCancel(ctx) // ends the stream on return
	defer cancel()
	var (
		changed = make(chan struct{}, 1)
		hello   = make(chan struct{}, 1)
		ended   = make(chan error, 1) // one stream at a time
		retry   <-chan time.Time
		backoff = time.Second
		live    bool
		refused bool // the refusal was reported
	)
	connect := func() {
		go func() {
			ended <- c.follow(ctx, a.timeout, func() {
				select {
				case hello <- struct{}{}:
				default:
				}
			}, changed)
		}()
	}
	// streamEnded decides what follows a stream's end (or refusal).
	streamEnded := func(err error) {
		live = false
		var r *streamRefusedError
		if errors.As(err, &r) {
			if !refused {
				fmt.Fprintf(a.stderr, "breakerctl: the server refused its event stream (%v); refreshing every %v instead\n", r, interval)
				refused = true
			}
			retry = time.After(streamRetry)
			return
		}
		retry = time.After(backoff)
		backoff = min(2*backoff, maxReconnect)
	}
	// The first draw waits for the stream's hello (or its refusal), so
	// that every change after the draw is announced.
	connect()
	select {
	case <-ctx.Done():
		return nil
	case <-hello:
		live = true
	case err := <-ended:
		streamEnded(err)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for first := true; ; first = false {
		var buf bytes.Buffer
		if term {
			buf.WriteString("\x1b[H\x1b[2J")
		}
		if !asJSON {
			how := fmt.Sprintf("Every %v", interval)
			if live {
				how += " and on every change"
			}
			fmt.Fprintf(&buf, "%s: breakerctl status    %s\n\n", how, time.Now().Format("15:04:05"))
		}
		err := render(ctx, &buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if first {
				return err
			}
			fmt.Fprintf(a.stderr, "breakerctl: %v\n", err)
		} else {
			if !term && !asJSON {
				buf.WriteByte('\n')
			}
			if _, err := a.stdout.Write(buf.Bytes()); err != nil {
				return nil // the reader went away
			}
		}
		for redraw := false; !redraw; {
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
				redraw = true
			case <-changed:
				redraw = true
			case <-hello: // (re)connected: changes may have been missed
				live, refused, backoff = true, false, time.Second
				redraw = true
			case err := <-ended:
				streamEnded(err)
			case <-retry:
				retry = nil
				connect()
			}
		}
	}
}
