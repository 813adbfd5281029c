package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

// chaosCommand is "breakerctl chaos": the server's chaos experiments.
func (a *app) chaosCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "List, start and stop chaos experiments (fault injection)",
		Long: `List, start and stop the chaos experiments of a server whose registry was
built with chaos (core.WithChaos); on any other server every write is
refused and nothing can turn chaos on. Writes need a write token and a
--reason, recorded in the audit log. See docs/chaos.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("chaos needs a subcommand: list, start, stop or kill")
		},
	}
	cmd.AddCommand(a.chaosListCommand(), a.chaosStartCommand(), a.chaosStopCommand(), a.chaosKillCommand())
	return cmd
}

func (a *app) chaosListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the running experiments, then the ended ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var rep wire.ChaosReport
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/chaos", nil, nil, &rep)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			if !rep.Enabled {
				fmt.Fprintln(a.stdout, "chaos is off: the server's registry was built without it")
				return nil
			}
			fmt.Fprintf(a.stdout, "at most %d guards under chaos at once; experiments end within %v\n", rep.MaxGuards, time.Duration(rep.MaxDuration))
			return a.writeChaos(rep.Experiments)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// writeChaos prints experiments as a table.
func (a *app) writeChaos(exps []chaos.Status) error {
	if len(exps) == 0 {
		fmt.Fprintln(a.stdout, "no experiment")
		return nil
	}
	color, err := a.useColor()
	if err != nil {
		return err
	}
	t := &table{color: color, head: []string{"ID", "STATE", "FAULT", "GUARDS", "INJECTED", "ENDS", "BY"}}
	for _, e := range exps {
		state := cell{text: "running", color: red}
		switch {
		case e.Stopped != nil:
			state = cell{text: "stopped", color: dim}
		case !e.Active:
			state = cell{text: "ended", color: dim}
		}
		fault := string(e.Fault)
		if e.Fault != chaos.FaultTrip {
			fault += fmt.Sprintf(" %g%%", e.Rate*100)
		}
		if e.Latency > 0 {
			fault += " +" + time.Duration(e.Latency).String()
		}
		t.add(plain(e.ID), state, plain(fault), plain(strings.Join(e.Targets, ",")), plain(fmt.Sprintf("%d/%d", e.Injected, e.Calls)), plain(e.Ends.Local().Format(time.DateTime)), plain(e.Actor))
	}
	t.write(a.stdout)
	return nil
}

func (a *app) chaosStartCommand() *cobra.Command {
	var (
		req          wire.ChaosStartRequest
		fault, until string
		rate         float64
		forD         time.Duration
		latency      time.Duration
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "start --fault error|latency|reject|trip [--rate R] [--guard NAME]... [--tag TAG]... --for DURATION|--until TIME --reason REASON",
		Short: "Start a chaos experiment",
		Long: `Start a chaos experiment on the server. Every experiment ends: give --for
(a duration from now) or --until (an RFC 3339 time). Faults:

  error    fail the calls (the breaker counts failures)    --rate, --message
  latency  delay the calls before the gates                --rate, --latency
  reject   reject the calls (a chaos rejection)            --rate
  trip     open the breakers of --trips guards at random    --trips

The scope is --guard and --tag (none: every guard), narrowed by --tenant
(calls carrying that tenant key) and --percent (that share of the guards, at
random). Excluded guards are never touched, nor critical ones without
--allow-critical; the server caps the guards under chaos at once.`,
		Example: `  breakerctl chaos start --fault error --rate 0.1 --guard payments.charge --for 10m --reason "game day"
  breakerctl chaos start --fault latency --latency 300ms --rate 0.5 --tag search --tenant acme --for 5m -r "latency drill"
  breakerctl chaos start --fault trip --trips 1 --tag edge --for 2m -r "random trip"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(req.Reason); err != nil {
				return err
			}
			req.Fault = chaos.Fault(fault)
			req.Rate = rate
			req.Latency = core.Duration(latency)
			switch {
			case forD != 0 && until != "":
				return usageErrorf("--for and --until: give one, not both")
			case forD < 0:
				return usageErrorf("--for %v must be positive", forD)
			case forD > 0:
				req.For = core.Duration(forD)
			case until != "":
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					return usageErrorf("--until: %q is not an RFC 3339 time such as 2030-01-02T15:04:05Z", until)
				}
				req.Ends = t
			default:
				return usageErrorf("--for or --until is required: every experiment ends")
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var res wire.ChaosResult
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/chaos/experiments", nil, req, &res)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			fmt.Fprintf(a.stdout, "started (audit #%d)\n", res.AuditSeq)
			return a.writeChaos(res.Experiments)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fault, "fault", "", "error, latency, reject or trip (required)")
	f.Float64Var(&rate, "rate", 1, "share of the calls in scope that get the fault, above 0 and at most 1")
	f.DurationVar(&latency, "latency", 0, "delay added by a latency fault")
	f.StringVar(&req.Message, "message", "", "error message of an error fault")
	f.StringArrayVar(&req.Guards, "guard", nil, "a guard in scope (repeatable)")
	f.StringArrayVar(&req.Tags, "tag", nil, "guards with this tag are in scope (repeatable)")
	f.StringArrayVar(&req.Tenants, "tenant", nil, "only calls of this tenant key (repeatable)")
	f.Float64Var(&req.Percent, "percent", 0, "keep this share (0-100) of the guards in scope, at random")
	f.IntVar(&req.Trips, "trips", 0, "how many guards a trip opens (default 1)")
	f.BoolVar(&req.AllowCritical, "allow-critical", false, "let the experiment touch critical guards")
	f.StringVar(&req.ID, "id", "", "the experiment's ID (default assigned by the server)")
	f.DurationVar(&forD, "for", 0, "how long it runs")
	f.StringVar(&until, "until", "", "when it ends (RFC 3339)")
	f.StringVarP(&req.Reason, "reason", "r", "", "why (required)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	_ = cmd.RegisterFlagCompletionFunc("fault", fixedCompletion("error", "latency", "reject", "trip"))
	_ = cmd.RegisterFlagCompletionFunc("guard", a.completeGuards)
	_ = cmd.RegisterFlagCompletionFunc("tag", a.completeTags)
	return cmd
}

func (a *app) chaosStopCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "stop ID --reason REASON",
		Short:   "Stop one running experiment",
		Example: `  breakerctl chaos stop exp-1 --reason "seen enough"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(reason); err != nil {
				return err
			}
			return a.chaosWrite(cmd, "/v1/chaos/stop", wire.ChaosStopRequest{ID: args[0], Reason: reason}, "stopped", asJSON)
		},
	}
	cmd.Flags().StringVarP(&reason, "reason", "r", "", "why (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) chaosKillCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "kill --reason REASON",
		Short:   "The kill switch: stop every running experiment at once",
		Example: `  breakerctl chaos kill --reason "incident"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(reason); err != nil {
				return err
			}
			return a.chaosWrite(cmd, "/v1/chaos/kill", wire.ChaosKillRequest{Reason: reason}, "stopped", asJSON)
		},
	}
	cmd.Flags().StringVarP(&reason, "reason", "r", "", "why (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// chaosWrite posts a stop or a kill and prints what it stopped.
func (a *app) chaosWrite(cmd *cobra.Command, path string, body any, verb string, asJSON bool) error {
	c, err := a.newClient()
	if err != nil {
		return err
	}
	var res wire.ChaosResult
	raw, err := c.call(cmd.Context(), http.MethodPost, path, nil, body, &res)
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(raw)
	}
	fmt.Fprintf(a.stdout, "%s %d experiment%s (audit #%d)\n", verb, len(res.Experiments), plural(len(res.Experiments)), res.AuditSeq)
	if len(res.Experiments) == 0 {
		return nil
	}
	return a.writeChaos(res.Experiments)
}
