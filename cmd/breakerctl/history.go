package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
)

// How far back the admin server's rollups go (shortHistory and
// longHistory; breakerctl speaks the API through admin/wire only).
const (
	shortHistory = time.Hour      // of 10-second rollups
	longHistory  = 24 * time.Hour // of 1-minute rollups
)

// sparkWidth is the most columns a trend takes; longer histories are
// summed into columns of several rollups.
const sparkWidth = 60

// historyCommand is `breakerctl history GUARD`: a guard's rollup history
// (GET /v1/history), as trends or JSON.
func (a *app) historyCommand() *cobra.Command {
	var since, step string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history GUARD [--since 1h] [--step 10s|1m] [--json]",
		Short: "Show a guard's trends: calls, failures, slow calls, rejections and state over time",
		Long: `history shows the rollups the admin server keeps of a guard's counters:
10-second rollups for the last hour, 1-minute rollups for the last day. With a
history store (admin.WithHistoryStore), they continue across the server's
restarts. For longer or finer history, use Prometheus or OTLP.

--since is a duration (default 1h) or an RFC 3339 time, at most 24h back.
--step is 10s (the last hour only) or 1m; by default 10s up to 1h, 1m beyond.`,
		Example:           "  breakerctl history payments\n  breakerctl history payments --since 24h\n  breakerctl history payments --since 30m --step 1m --json",
		Args:              exactArgs(1, "GUARD"),
		ValidArgsFunction: a.completeGuards,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			from, err := parseSince(since, now)
			if err != nil {
				return err
			}
			long, err := historyStep(step, now.Sub(from), since)
			if err != nil {
				return err
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			q := url.Values{"guard": {args[0]}, "range": {"1h"}}
			if long {
				q.Set("range", "24h")
			}
			var h wire.History
			if _, err := c.call(cmd.Context(), http.MethodGet, "/v1/history", q, nil, &h); err != nil {
				return err
			}
			h = historySince(h, from)
			if asJSON {
				b, err := json.Marshal(h)
				if err != nil {
					return refused(err)
				}
				return a.printJSON(b)
			}
			a.writeHistory(h, args[0], color)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "1h", "how far back: a duration (24h) or an RFC 3339 time, at most 24h back")
	f.StringVar(&step, "step", "", "rollup span: 10s (last hour only) or 1m (default: 10s up to 1h, 1m beyond)")
	f.BoolVar(&asJSON, "json", false, "print the history as JSON (the server's document, cut to --since)")
	_ = cmd.RegisterFlagCompletionFunc("step", fixedCompletion("10s", "1m"))
	return cmd
}

// historyStep reports whether the history of span back needs the long
// (1-minute) rollups, or refuses a --step or --since the server cannot
// serve.
func historyStep(step string, span time.Duration, since string) (long bool, err error) {
	if span > longHistory {
		return false, usageErrorf("--since %q reaches %s back; the server keeps %s (use Prometheus or OTLP for more)", since, shortDuration(span), shortDuration(longHistory))
	}
	switch step {
	case "":
		return span > shortHistory, nil
	case "1m", "60s":
		return true, nil
	case "10s":
		if span > shortHistory {
			return false, usageErrorf("--step 10s covers the last %s only, and --since %q reaches %s back; use --step 1m", shortDuration(shortHistory), since, shortDuration(span))
		}
		return false, nil
	}
	return false, usageErrorf("--step %q is not 10s or 1m", step)
}

// historySince cuts h to the rollups that end after from.
func historySince(h wire.History, from time.Time) wire.History {
	step := time.Duration(h.Step)
	if h.Count == 0 || step <= 0 || !from.After(h.Start) {
		return h
	}
	skip := min(int(from.Sub(h.Start)/step), h.Count)
	h.Start = h.Start.Add(time.Duration(skip) * step)
	h.Count -= skip
	for i := range h.Guards {
		g := &h.Guards[i]
		for _, s := range []*[]uint32{&g.Calls, &g.Succeeded, &g.Failed, &g.Slow, &g.Rejected, &g.RejectedOpen, &g.RejectedFull, &g.RejectedLimited} {
			if len(*s) >= skip {
				*s = (*s)[skip:]
			}
			if isZero(*s) {
				*s = nil
			}
		}
		if len(g.Severity) >= skip {
			g.Severity = g.Severity[skip:]
		}
		if strings.Trim(g.Severity, "0") == "" {
			g.Severity = ""
		}
	}
	return h
}

func isZero(s []uint32) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

// writeHistory prints one guard's history as a table of trends.
func (a *app) writeHistory(h wire.History, name string, color bool) {
	if h.Count == 0 || len(h.Guards) == 0 {
		fmt.Fprintf(a.stdout, "%s: no history yet\n", name)
		return
	}
	g := &h.Guards[0]
	step := time.Duration(h.Step)
	per := (h.Count + sparkWidth - 1) / sparkWidth
	end := h.Start.Add(time.Duration(h.Count) * step)
	fmt.Fprintf(a.stdout, "%s  %s to %s  step %s", name, h.Start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), shortDuration(step))
	if per > 1 {
		fmt.Fprintf(a.stdout, ", %s a column", shortDuration(time.Duration(per)*step))
	}
	fmt.Fprintln(a.stdout)
	if g.Dropped {
		fmt.Fprintln(a.stdout, "(the server dropped part of this guard's history to stay within its memory limit)")
	}
	t := &table{color: color, head: []string{"SERIES", "TOTAL", "PEAK/" + shortDuration(step), "TREND"}}
	for _, s := range []struct {
		name string
		v    []uint32
	}{
		{"calls", g.Calls}, {"succeeded", g.Succeeded}, {"failed", g.Failed}, {"slow", g.Slow},
		{"rejected", g.Rejected}, {"  open", g.RejectedOpen}, {"  full", g.RejectedFull}, {"  limited", g.RejectedLimited},
	} {
		var total, peak uint64
		for _, v := range s.v {
			total += uint64(v)
			peak = max(peak, uint64(v))
		}
		if total == 0 && strings.HasPrefix(s.name, " ") {
			continue // no rejections of this reason: the split says nothing
		}
		t.add(plain(s.name), plain(strconv.FormatUint(total, 10)), plain(strconv.FormatUint(peak, 10)), plain(sparkline(s.v, h.Count, per)))
	}
	t.add(plain("state"), plain(""), plain(""), plain(stateLine(g.Severity, h.Count, per)))
	t.write(a.stdout)
	fmt.Fprintln(a.stdout, "state: . closed  h half-open  o open  F forced open (the worst of each column)")
}

// sparkline draws v (n rollups, nil for all zero) in columns of per
// rollups, summed: a blank for none, ▁ to █ scaled to the largest column.
func sparkline(v []uint32, n, per int) string {
	cols := make([]uint64, (n+per-1)/per)
	var top uint64
	for i, x := range v {
		cols[i/per] += uint64(x)
		top = max(top, cols[i/per])
	}
	const levels = "▁▂▃▄▅▆▇█"
	var b strings.Builder
	for _, c := range cols {
		if c == 0 {
			b.WriteByte(' ')
			continue
		}
		l := int((c*8 + top - 1) / top) // 1..8
		b.WriteString(string([]rune(levels)[l-1]))
	}
	return strings.TrimRight(b.String(), " ")
}

// stateLine draws the severity digits (see wire.GuardHistory; "" for all
// closed) in columns of per rollups, the worst of each.
func stateLine(sev string, n, per int) string {
	cols := make([]byte, (n+per-1)/per)
	for i := range cols {
		cols[i] = '0'
	}
	for i := 0; i < len(sev) && i/per < len(cols); i++ {
		cols[i/per] = max(cols[i/per], sev[i])
	}
	for i, c := range cols {
		switch c {
		case '1':
			cols[i] = 'h'
		case '2':
			cols[i] = 'o'
		case '3':
			cols[i] = 'F'
		default:
			cols[i] = '.'
		}
	}
	return string(cols)
}
