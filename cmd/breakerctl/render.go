package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// ANSI colours.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	cyan   = "36"
	bold   = "1"
	dim    = "2"
)

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// useColor decides --color: "always", "never", or "auto" (a terminal,
// NO_COLOR unset, TERM not "dumb").
func (a *app) useColor() (bool, error) {
	switch a.color {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return isTerminal(a.stdout) && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb", nil
	}
	return false, usageErrorf("--color %q is not auto, always or never", a.color)
}

func stateColor(s breaker.State) string {
	switch s {
	case breaker.Closed:
		return green
	case breaker.Open, breaker.ForcedOpen:
		return red
	case breaker.HalfOpen:
		return yellow
	}
	return cyan
}

// cell is a table cell with an optional colour.
type cell struct {
	text  string
	color string
}

func plain(s string) cell { return cell{text: s} }

// table prints rows under a header, columns padded to their widest cell.
// Colour codes are added after padding, so they never break alignment.
type table struct {
	color bool
	head  []string
	rows  [][]cell
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	widths := make([]int, len(t.head))
	for i, h := range t.head {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	line := func(cells []cell) {
		for i, c := range cells {
			text := c.text
			if i < len(cells)-1 {
				text += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2)
			}
			if t.color && c.color != "" {
				// Colour the text only, not the padding.
				n := len(c.text)
				text = "\x1b[" + c.color + "m" + text[:n] + "\x1b[0m" + text[n:]
			}
			b.WriteString(text)
		}
		b.WriteByte('\n')
	}
	head := make([]cell, len(t.head))
	for i, h := range t.head {
		head[i] = cell{text: h, color: bold}
	}
	line(head)
	for _, r := range t.rows {
		line(r)
	}
	io.WriteString(w, b.String())
}

// ago formats the time from t to now, to the second.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return humanDuration(now.Sub(t))
}

func humanDuration(d time.Duration) string {
	if d < time.Second {
		d = 0
	}
	d = d.Round(time.Second)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
	return d.String()
}

func stateCell(s breaker.State) cell { return cell{text: s.String(), color: stateColor(s)} }

// policyActor is the actor of the state a guard's policy sets with its
// breaker mode (core's newGuard).
const policyActor = "policy"

// guardStateCell is a guard's state, marked "(policy)" when its policy's
// breaker mode set it and "(manual)" when an operator did.
func guardStateCell(g *wire.GuardStatus) cell {
	c := stateCell(g.State)
	if o := g.Override; o != nil {
		if o.Actor == policyActor {
			c.text += " (policy)"
		} else {
			c.text += " (manual)"
		}
	}
	return c
}

func (a *app) statusTable(list *wire.GuardList, color bool) *table {
	t := &table{color: color, head: []string{"GUARD", "STATE", "FOR", "FAILURES", "CALLS", "REJECTED", "REOPENS IN", "TAGS"}}
	now := list.TakenAt
	for _, g := range list.Guards {
		name := g.Name
		if g.Critical {
			name += " (critical)"
		}
		fail := "-"
		if g.Window.Calls > 0 {
			fail = fmt.Sprintf("%.1f%% of %d", g.Window.FailureRate, g.Window.Calls)
		}
		until := "-"
		if g.OpenUntil != nil {
			until = humanDuration(g.OpenUntil.Sub(now))
		}
		tags := strings.Join(g.Tags, ",")
		if tags == "" {
			tags = "-"
		}
		rej := cell{text: fmt.Sprint(g.Counters.Rejected)}
		if g.Counters.Rejected > 0 {
			rej.color = yellow
		}
		t.add(plain(name), guardStateCell(&g), plain(ago(g.Since, now)), plain(fail), plain(fmt.Sprint(g.Counters.Admitted)), rej, plain(until), cell{text: tags, color: dim})
	}
	return t
}

// writeGuard prints one guard in detail.
func (a *app) writeGuard(w io.Writer, g *wire.GuardStatus, now time.Time, color bool) {
	paint := func(s, c string) string {
		if color {
			return "\x1b[" + c + "m" + s + "\x1b[0m"
		}
		return s
	}
	kv := func(k, v string) { fmt.Fprintf(w, "%-13s %s\n", k+":", v) }
	kv("guard", paint(g.Name, bold))
	kv("state", paint(g.State.String(), stateColor(g.State))+" for "+ago(g.Since, now))
	if g.OpenUntil != nil {
		kv("reopens", "at "+g.OpenUntil.Format(time.RFC3339)+" (in "+humanDuration(g.OpenUntil.Sub(now))+")")
	}
	if o := g.Override; o != nil && o.Actor == policyActor {
		kv("mode", fmt.Sprintf("%s, set by the guard's policy (%s)", o.State, o.Reason))
	} else if o != nil {
		kv("override", fmt.Sprintf("%s by %s at %s: %q", o.State, o.Actor, o.At.Format(time.RFC3339), o.Reason))
	}
	crit := ""
	if g.Critical {
		crit = " (critical: readiness fails while it is open)"
	}
	kv("policy", g.Policy+crit)
	if len(g.Tags) > 0 {
		kv("tags", strings.Join(g.Tags, ", "))
	}
	c := g.Counters
	kv("calls", fmt.Sprintf("%d admitted: %d succeeded, %d failed, %d ignored, %d slow", c.Admitted, c.Succeeded, c.Failed, c.Ignored, c.Slow))
	kv("rejected", fmt.Sprintf("%d: %d open, %d probe slots taken, %d bulkhead full, %d rate limited", c.Rejected, c.RejectedOpen, c.RejectedProbe, c.RejectedFull, c.RejectedLimited))
	win := g.Window
	kv("window", fmt.Sprintf("%d calls, %d failed (%.1f%%), %d slow (%.1f%%), %d consecutive failures", win.Calls, win.Failures, win.FailureRate, win.Slow, win.SlowCallRate, win.ConsecutiveFailures))
	if b := g.Bulkhead; b != nil {
		kv("bulkhead", fmt.Sprintf("%d/%d in use, %d/%d queued, %d rejected, %d timed out", b.InUse, b.MaxConcurrent, b.Queued, b.MaxQueue, b.Rejected, b.TimedOut))
	}
	if r := g.RateLimit; r != nil {
		burst := ""
		if r.Burst > 0 {
			burst = fmt.Sprintf(", burst %d", r.Burst)
		}
		next := ""
		if r.RetryAfter > 0 {
			next = ", next in " + humanDuration(time.Duration(r.RetryAfter))
		}
		kv("rate limit", fmt.Sprintf("%s %g per %s%s: %.1f available%s, %d allowed, %d rejected",
			r.Algorithm, r.Limit, shortDuration(time.Duration(r.Per)), burst, r.Available, next, r.Allowed, r.Rejected))
	}
	if t := g.LastTransition; t != nil {
		by := ""
		if t.Actor != "" {
			by = " by " + t.Actor
		}
		kv("last change", fmt.Sprintf("%s -> %s at %s%s: %s", t.From, t.To, t.At.Format(time.RFC3339), by, t.Reason))
	}
	kv("transitions", fmt.Sprint(c.Transitions))
}

// changesTable prints an operation's effect per guard.
func changesTable(changes []wire.Change, now time.Time, color bool) *table {
	t := &table{color: color, head: []string{"GUARD", "FROM", "TO", "REOPENS IN"}}
	for _, c := range changes {
		until := "-"
		if c.OpenUntil != nil {
			until = humanDuration(c.OpenUntil.Sub(now))
		}
		t.add(plain(c.Guard), stateCell(c.From), stateCell(c.To), plain(until))
	}
	return t
}

func auditTable(recs []wire.AuditRecord, color bool) *table {
	t := &table{color: color, head: []string{"SEQ", "TIME", "ACTOR", "OP", "TARGET", "REASON", "CHANGES"}}
	for _, r := range recs {
		op := string(r.Op)
		for _, k := range []string{"duration", "until", "idle"} {
			if v, ok := r.Params[k]; ok {
				op += " " + k + "=" + v
			}
		}
		var ch string
		switch n := len(r.After); {
		case n == 0:
			ch = "none"
		case n <= 2:
			parts := make([]string, n)
			for i, af := range r.After {
				to := af.State.String()
				if af.Gone {
					to = "pruned"
				}
				parts[i] = fmt.Sprintf("%s %s->%s", af.Guard, r.Before[i].State, to)
			}
			ch = strings.Join(parts, "; ")
		default:
			ch = fmt.Sprintf("%d guards", n)
		}
		target := r.Target.String()
		if r.Op == wire.OpRestore {
			target = "snapshot"
		}
		t.add(plain(fmt.Sprint(r.Seq)), plain(r.Time.Local().Format("2006-01-02 15:04:05")), plain(r.Actor), cell{text: op, color: bold}, plain(target), plain(r.Reason), plain(ch))
	}
	return t
}

// shortDuration prints a configured period without its zero units: "1h",
// "1m30s", "1s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
