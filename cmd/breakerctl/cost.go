package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
)

// costCommand is "breakerctl cost": what protected calls cost.
func (a *app) costCommand() *cobra.Command {
	var since time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cost [--since DURATION]",
		Short: "Show what guarded calls cost, and what breakers and rate limits saved",
		Long: `Show the spend of the guards whose policy has a cost (cost: {perCall,
perRetry, currency}), by guard and by currency, with the spend avoided by
open breakers and rate limits (rejected calls at perCall).

Without --since the figures are cumulative since each guard was created,
computed exactly from its counters (retries at perRetry).

With --since (at most 24h) they come from the admin server's rollup
history: it starts when the server did, keeps an hour of 10-second rollups
and a day of 1-minute rollups, and covers the rollups that overlap the
period up to the last complete one. The history does not count retries:
over a period every admitted call, retries included, is priced at perCall.`,
		Example: "  breakerctl cost\n  breakerctl cost --since 24h\n  breakerctl cost --since 30m --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var q url.Values
			if cmd.Flags().Changed("since") {
				if since <= 0 || since > 24*time.Hour {
					return usageErrorf("--since %v must be above 0 and at most 24h", since)
				}
				q = url.Values{"since": {since.String()}}
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var rep wire.CostReport
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/cost", q, nil, &rep)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			return a.writeCost(&rep)
		},
	}
	cmd.Flags().DurationVar(&since, "since", 0, "the period, at most 24h (default: since each guard was created)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) writeCost(rep *wire.CostReport) error {
	if rep.Cumulative {
		fmt.Fprintln(a.stdout, "cumulative, since each guard was created")
	} else if rep.From.IsZero() {
		fmt.Fprintln(a.stdout, "the server's rollup history has no complete rollup yet")
	} else {
		fmt.Fprintf(a.stdout, "%s to %s, from the rollup history (retries priced as calls)\n", rep.From.Local().Format(time.DateTime), rep.To.Local().Format(time.DateTime))
	}
	if len(rep.Guards) == 0 {
		fmt.Fprintln(a.stdout, "no guard's policy has a cost")
		return nil
	}
	color, err := a.useColor()
	if err != nil {
		return err
	}
	t := &table{color: color, head: []string{"GUARD", "CURRENCY", "CALLS", "SPENT", "RETRIES", "RETRY SPEND", "AVOIDED (BREAKER)", "AVOIDED (RATE LIMIT)"}}
	for _, g := range rep.Guards {
		t.add(plain(g.Name), plain(g.Currency), plain(strconv.FormatUint(g.Calls, 10)), plain(micros(g.SpentMicros)),
			plain(strconv.FormatUint(g.Retries, 10)), plain(micros(g.RetrySpentMicros)), plain(micros(g.AvoidedByBreakerMicros)), plain(micros(g.AvoidedByRateLimitMicros)))
	}
	for _, tot := range rep.Totals {
		t.add(cell{text: "total", color: bold}, plain(tot.Currency), plain(""), plain(micros(tot.SpentMicros)), plain(""),
			plain(micros(tot.RetrySpentMicros)), plain(micros(tot.AvoidedByBreakerMicros)), plain(micros(tot.AvoidedByRateLimitMicros)))
	}
	t.write(a.stdout)
	return nil
}

// micros writes an amount in micro-units as a decimal, exactly.
func micros(m int64) string {
	sign := ""
	u := uint64(m)
	if m < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%06d", sign, u/1e6, u%1e6)
}
