package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/fleet"
)

// fleetActionOf maps the override commands that have a fleet-wide form
// (--fleet) to their fleet action. reset has none: it clears one
// replica's windows.
var fleetActionOf = map[wire.Op]fleet.Action{
	wire.OpOpen:        fleet.ActionForceOpen,
	wire.OpClose:       fleet.ActionClose,
	wire.OpDisable:     fleet.ActionDisable,
	wire.OpMetricsOnly: fleet.ActionMetricsOnly,
	wire.OpRelease:     fleet.ActionRelease,
}

// fleetCommand is "breakerctl fleet": the fleet this replica belongs to
// (GET /v1/fleet), and "fleet act" for an action on every replica
// (POST /v1/fleet/actions).
func (a *app) fleetCommand() *cobra.Command {
	var asJSON bool
	var inRegion string // --region, regions.go (issue #26)
	cmd := &cobra.Command{
		Use:   "fleet [--json]",
		Short: "Show the fleet: replicas, the fleet's view of each guard, operator actions, store health",
		Long: `Show what the replica behind --addr knows of its fleet (fleet mode): the live
replicas with their region and policy version, for each guard the replicas
voting it open, whether this replica adopted the fleet's open verdict and
who holds the half-open probe, the fleet-wide operator actions in force, and
the health of the fleet's store.

"breakerctl fleet act" takes an action for every replica; so does --fleet on
open, close, disable, metrics-only and release.`,
		Example: "  breakerctl fleet\n  breakerctl fleet act --target tag:stripe --action force-open --reason \"incident 4711\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if inRegion != "" { // another region's fleet, from its summary (issue #26)
				return a.regionOne(cmd.Context(), inRegion, "", asJSON)
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var rep wire.FleetReport
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/fleet", nil, nil, &rep)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			writeFleet(a.stdout, &rep, time.Now(), color)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().StringVar(&inRegion, "region", "", "show region R's fleet from its summary (GET /v1/regions/R/guards), as breakerctl regions --region R")
	cmd.AddCommand(a.fleetActCommand())
	return cmd
}

func (a *app) fleetActCommand() *cobra.Command {
	var target, action, reason string
	var asJSON bool
	names := make([]string, len(wire.FleetActions))
	for i, x := range wire.FleetActions {
		names[i] = string(x)
	}
	cmd := &cobra.Command{
		Use:   "act --target TARGET --action ACTION --reason REASON",
		Short: "Take an operator action for every replica of the fleet",
		Long: `Store an operator action in the fleet's store: every replica applies it,
those that join or come back from a partition later included, and this
replica's audit log records it once, with the token's name and the reason.

--target is all, tag:TAG, or a guard's name (name:NAME for a name that is
"all" or starts with "tag:" or "name:").
--action is one of ` + strings.Join(names, ", ") + `.

When the fleet's store is down the action is refused (exit code 1) and no
replica applies it; act on each replica without --fleet instead.`,
		Example: "  breakerctl fleet act --target payments.charge --action force-open --reason \"incident 4711\"\n  breakerctl fleet act --target tag:stripe --action release --reason \"provider back\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return usageErrorf("--target is required: all, tag:TAG or a guard's name")
			}
			if _, err := wire.ParseFleetTarget(target); err != nil {
				return usageErrorf("--target %q %v", target, err)
			}
			known := false
			for _, x := range wire.FleetActions {
				known = known || string(x) == action
			}
			if !known {
				return usageErrorf("--action %q is not one of %s", action, strings.Join(names, ", "))
			}
			if err := checkReason(reason); err != nil {
				return err
			}
			return a.fleetAct(cmd.Context(), wire.FleetActionRequest{Target: target, Action: fleet.Action(action), Reason: reason}, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "the guards: all, tag:TAG or a guard's name (required)")
	f.StringVar(&action, "action", "", "the action: "+strings.Join(names, ", ")+" (required)")
	f.StringVarP(&reason, "reason", "r", "", "why (required; recorded in the audit log)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	_ = cmd.RegisterFlagCompletionFunc("action", fixedCompletion(names...))
	return cmd
}

// fleetAct sends an action to POST /v1/fleet/actions and prints what the
// store holds.
func (a *app) fleetAct(ctx context.Context, req wire.FleetActionRequest, asJSON bool) error {
	c, err := a.newClient()
	if err != nil {
		return err
	}
	var res wire.FleetActionResult
	raw, err := c.call(ctx, http.MethodPost, "/v1/fleet/actions", nil, req, &res)
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(raw)
	}
	o := res.Override
	fmt.Fprintf(a.stdout, "%s %s by %s: stored for the fleet as version %d (audit #%d); every replica applies it\n", o.Action, o.Target, o.Actor, o.Version, res.AuditSeq)
	return nil
}

// fleetOp is an override command given --fleet: the same action for every
// replica of the fleet rather than for this one.
func (a *app) fleetOp(ctx context.Context, op wire.Op, t wire.Target, reason string, timed, asJSON bool) error {
	action, ok := fleetActionOf[op]
	if !ok {
		return usageErrorf("%s has no fleet-wide form", op)
	}
	if timed {
		return usageErrorf("--for and --until apply to one replica: a fleet-wide open lasts until released (breakerctl release --fleet)")
	}
	return a.fleetAct(ctx, wire.FleetActionRequest{Target: wire.FleetTarget(t), Action: action, Reason: reason}, asJSON)
}

// writeFleet prints a fleet report: a line on the store, the replicas, the
// fleet's view of each guard and the actions in force.
func writeFleet(w io.Writer, rep *wire.FleetReport, now time.Time, color bool) {
	st := rep.Store
	store := "store up"
	if !st.Up {
		store = "store DOWN since " + ago(st.Since, now) + " ago: " + dash(st.LastError) + " (guards decide alone; fleet actions are refused)"
	}
	fmt.Fprintf(w, "replica %s of a fleet of %d; %s\n", rep.Self.ID, len(rep.Members), store)
	if st.Errors+st.Skipped > 0 {
		fmt.Fprintf(w, "store calls failed %d (timed out %d), skipped while the store's breaker was open %d\n", st.Errors, st.Timeouts, st.Skipped)
	}
	if st.Dropped+st.Malformed+st.AllowedByFailureMode > 0 {
		fmt.Fprintf(w, "publications dropped %d, malformed values %d, calls allowed by failure mode %d\n", st.Dropped, st.Malformed, st.AllowedByFailureMode)
	}
	fmt.Fprintln(w)
	mt := &table{color: color, head: []string{"REPLICA", "REGION", "VERSION", "POLICY"}}
	for _, m := range rep.Members {
		id := plain(m.ID)
		if m.ID == rep.Self.ID {
			id = cell{text: m.ID + " (this one)", color: bold}
		}
		pol := "-"
		if m.Policy != 0 {
			pol = "v" + strconv.FormatUint(m.Policy, 10)
		}
		mt.add(id, plain(dash(m.Region)), plain(dash(m.Version)), plain(pol))
	}
	mt.write(w)
	if len(rep.Guards) > 0 {
		fmt.Fprintln(w)
		gt := &table{color: color, head: []string{"GUARD", "RULE", "OPEN VOTES", "ADOPTED", "PROBE"}}
		for _, g := range rep.Guards {
			votes := fmt.Sprintf("%d of %d", len(g.OpenVotes), len(rep.Members))
			if len(g.OpenVotes) > 0 {
				votes += " (" + strings.Join(g.OpenVotes, ", ") + ")"
			}
			adopted := plain("no")
			if g.Adopted {
				adopted = cell{text: "yes (open)", color: red}
			}
			probe := "-"
			if l := g.Lease; l != nil {
				probe = l.Holder + " " + string(l.Outcome)
			}
			gt.add(plain(g.Guard), plain(dash(g.Rule)), plain(votes), adopted, plain(probe))
		}
		gt.write(w)
	}
	if len(rep.Overrides) > 0 {
		fmt.Fprintln(w)
		ot := &table{color: color, head: []string{"VERSION", "TARGET", "ACTION", "BY", "REASON"}}
		for _, o := range rep.Overrides {
			ot.add(plain(strconv.FormatUint(o.Version, 10)), plain(o.Target), cell{text: string(o.Action), color: yellow}, plain(dash(o.Actor)), plain(dash(o.Reason)))
		}
		ot.write(w)
	}
}
