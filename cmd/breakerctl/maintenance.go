package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
)

// maintenanceCommand is "breakerctl maintenance": list, add and delete
// maintenance windows through the admin API (a server built with
// admin.WithMaintenance).
func (a *app) maintenanceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "List, add and delete maintenance windows",
		Long: `A maintenance window forces guards open, or puts them in metrics-only mode,
for a period: once (--start, --end) or on a schedule (--schedule with a
five-field cron expression or a descriptor such as @daily, --duration, and
--tz, an IANA time zone). A window acts on one guard (--guard) or on every
guard with a tag (--tag).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("maintenance needs a subcommand: list, add or delete")
		},
	}
	cmd.AddCommand(a.maintenanceListCommand(), a.maintenanceAddCommand(), a.maintenanceDeleteCommand())
	return cmd
}

func (a *app) maintenanceListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the maintenance windows, active ones first, then the upcoming",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var l wire.MaintenanceList
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/maintenance", nil, nil, &l)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			if len(l.Windows) == 0 {
				fmt.Fprintln(a.stdout, "no maintenance windows")
				return nil
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			t := &table{color: color, head: []string{"NAME", "TARGET", "ACTION", "WHEN", "STATUS", "FROM", "UNTIL", "BY"}}
			for _, w := range l.Windows {
				target := "guard " + w.Guard
				if w.Tag != "" {
					target = "tag " + w.Tag
				}
				if w.Source != "" { // a window of the policy document: lists of guards and tags
					var parts []string
					if len(w.Guards) > 0 {
						parts = append(parts, "guards "+strings.Join(w.Guards, ","))
					}
					if len(w.Tags) > 0 {
						parts = append(parts, "tags "+strings.Join(w.Tags, ","))
					}
					target = strings.Join(parts, "; ")
				}
				by := dash(w.CreatedBy)
				if w.Source == "policy" {
					by += fmt.Sprintf(" (policy v%d)", w.PolicyVersion)
				}
				when := "once"
				if w.Schedule != "" {
					when = w.Schedule + " for " + w.Duration + " (" + w.TimeZone + ")"
				}
				st := cell{text: "upcoming"}
				switch {
				case w.Active:
					st = cell{text: "active", color: yellow}
				case w.From.IsZero():
					st = cell{text: "over", color: dim}
				}
				t.add(plain(w.Name), plain(target), plain(w.Action), plain(when), st, plain(fmtTime(w.From)), plain(fmtTime(w.Until)), plain(by))
			}
			t.write(a.stdout)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func (a *app) maintenanceAddCommand() *cobra.Command {
	var w wire.MaintenanceWindow
	var start, end string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME (--guard NAME | --tag TAG) --reason TEXT (--start T --end T | --schedule CRON --duration D [--tz ZONE])",
		Short: "Add a maintenance window",
		Example: `  breakerctl maintenance add pg17 --guard postgres --start 2026-12-08T02:00:00+01:00 --end 2026-12-08T04:00:00+01:00 --reason "postgres 17"
  breakerctl maintenance add nightly --tag db --action metrics-only --schedule "30 2 * * *" --duration 1h --tz Europe/Berlin --reason vacuum`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			w.Name = args[0]
			if err := checkReason(w.Reason); err != nil {
				return err
			}
			for _, f := range []struct {
				flag, text string
				dst        *time.Time
			}{{"--start", start, &w.Start}, {"--end", end, &w.End}} {
				if f.text == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, f.text)
				if err != nil {
					return usageErrorf("%s %q is not a time such as 2026-12-08T02:00:00+01:00 (RFC 3339)", f.flag, f.text)
				}
				*f.dst = t
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var got wire.MaintenanceWindow
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/maintenance", nil, w, &got)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			state := "upcoming"
			if got.Active {
				state = "active now"
			}
			fmt.Fprintf(a.stdout, "added window %s (%s), %s: %s until %s\n", got.Name, got.Action, state, fmtTime(got.From), fmtTime(got.Until))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&w.Guard, "guard", "", "the guard the window acts on")
	f.StringVar(&w.Tag, "tag", "", "act on every guard with this tag")
	f.StringVar(&w.Action, "action", wire.MaintenanceOpen, `"open" (force open) or "metrics-only"`)
	f.StringVar(&start, "start", "", "start of a one-off window (RFC 3339)")
	f.StringVar(&end, "end", "", "end of a one-off window (RFC 3339)")
	f.StringVar(&w.Schedule, "schedule", "", `when a recurring window starts: five-field cron or a descriptor such as "@daily"`)
	f.StringVar(&w.Duration, "duration", "", `how long a recurring window lasts, such as "2h"`)
	f.StringVar(&w.TimeZone, "tz", "", `the schedule's IANA time zone, such as "Europe/Berlin" (default UTC)`)
	f.StringVar(&w.Reason, "reason", "", "why, for the audit log (required)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) maintenanceDeleteCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete NAME --reason TEXT",
		Short: "Delete a maintenance window, ending it if it is active",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(reason); err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			raw, err := c.call(cmd.Context(), http.MethodDelete, "/v1/maintenance/"+pathSegment(args[0]), url.Values{"reason": {reason}}, nil, nil)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			fmt.Fprintf(a.stdout, "deleted window %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
