package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/fleet/region"
)

// regionsCommand is "breakerctl regions": every region side by side, from
// the summaries the replica behind --addr last read (GET /v1/regions), or
// with --region and --guard the failover hint "is GUARD open in REGION?"
// (GET /v1/regions/{region}/guards?guard=).
func (a *app) regionsCommand() *cobra.Command {
	var asJSON bool
	var guard, in string
	cmd := &cobra.Command{
		Use:   "regions [--region R [--guard NAME]] [--json]",
		Short: "Show every region side by side: each guard's open share, failure rate and limiter use",
		Long: `Show what the replica behind --addr knows of every region (multi-region fleet
mode): for each region its summary's sequence number and age (in the
replica's read periods since the sequence last advanced), its live replicas,
and for each guard whether the region reports it open, the share of its
replicas voting open, the failure rate and the limiter use; then the guards
scoped global, the regions reporting them open and whether this replica
holds them open because of them.

With --region R only that region's guards; with --guard NAME as well, the
failover hint for one guard (exit code 0 whether open or not; read "open").`,
		Example: "  breakerctl regions\n  breakerctl regions --region us-east-1 --guard payments.charge",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if guard != "" && in == "" {
				return usageErrorf("--guard needs --region: the failover hint is about one guard in one region")
			}
			if in != "" {
				return a.regionOne(cmd.Context(), in, guard, asJSON)
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var rep region.Report
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/regions", nil, nil, &rep)
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
			writeRegions(a.stdout, &rep, color)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "region", "", "one region only")
	f.StringVar(&guard, "guard", "", "one guard only (with --region): is it open there?")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// regionOne prints one region's guards, or one guard's state in it.
func (a *app) regionOne(ctx context.Context, name, guard string, asJSON bool) error {
	c, err := a.newClient()
	if err != nil {
		return err
	}
	path := "/v1/regions/" + pathSegment(name) + "/guards" // "." and ".." as one segment (see pathSegment)
	color, err := a.useColor()
	if err != nil {
		return err
	}
	if guard != "" {
		var st region.RegionGuardState
		raw, err := c.call(ctx, http.MethodGet, path, url.Values{"guard": {guard}}, nil, &st)
		if err != nil {
			return err
		}
		if asJSON {
			return a.printJSON(raw)
		}
		verdict := "closed"
		if st.Open {
			verdict = "open"
		}
		fmt.Fprintf(a.stdout, "%s in %s: %s (%d of %d replicas voting open; failure rate %.4g%%; summary seq %d, age %d)\n",
			st.Guard, st.Region, verdict, st.OpenReplicas, st.Members, st.FailureRate, st.Seq, st.Age)
		return nil
	}
	var v region.RegionView
	raw, err := c.call(ctx, http.MethodGet, path, nil, nil, &v)
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(raw)
	}
	writeRegionView(a.stdout, &v, color)
	return nil
}

// writeRegions prints every region side by side: one row per guard, one
// column per region.
func writeRegions(w io.Writer, rep *region.Report, color bool) {
	lead := ""
	if rep.Leader {
		lead = "; it publishes its region's summary"
	}
	fmt.Fprintf(w, "replica %s in region %s%s; %d regions with a live summary\n", rep.Replica, rep.Region, lead, len(rep.Regions))
	if rep.Errors+rep.Malformed > 0 {
		fmt.Fprintf(w, "store calls failed %d, malformed summaries %d\n", rep.Errors, rep.Malformed)
	}
	if len(rep.Regions) == 0 {
		return
	}
	fmt.Fprintln(w)
	rt := &table{color: color, head: []string{"REGION", "REPLICAS", "SEQ", "AGE", "BY"}}
	for _, r := range rep.Regions {
		name := plain(r.Region)
		if r.Self {
			name = cell{text: r.Region + " (this one)", color: bold}
		}
		rt.add(name, plain(fmt.Sprint(r.Members)), plain(fmt.Sprint(r.Seq)), plain(fmt.Sprint(r.Age)), plain(dash(r.By)))
	}
	rt.write(w)
	guards := map[string]bool{}
	var names []string
	for _, r := range rep.Regions {
		for _, g := range r.Guards {
			if !guards[g.Guard] {
				guards[g.Guard] = true
				names = append(names, g.Guard)
			}
		}
	}
	if len(names) > 0 {
		fmt.Fprintln(w)
		head := []string{"GUARD"}
		for _, r := range rep.Regions {
			head = append(head, strings.ToUpper(r.Region))
		}
		gt := &table{color: color, head: head}
		slices.Sort(names)
		for _, name := range names {
			row := []cell{plain(name)}
			for _, r := range rep.Regions {
				row = append(row, guardCell(r.Guards, name))
			}
			gt.add(row...)
		}
		gt.write(w)
	}
	if len(rep.Global) > 0 {
		fmt.Fprintln(w)
		gl := &table{color: color, head: []string{"GLOBAL GUARD", "K", "OPEN IN", "HELD OPEN HERE"}}
		for _, g := range rep.Global {
			held := plain("no")
			if g.Adopted {
				held = cell{text: "yes (" + region.ActorGlobal + ")", color: red}
			}
			gl.add(plain(g.Guard), plain(fmt.Sprint(g.Regions)), plain(fmt.Sprintf("%d: %s", len(g.OpenIn), dash(strings.Join(g.OpenIn, ", ")))), held)
		}
		gl.write(w)
	}
}

// guardCell is one guard in one region: OPEN or closed, with the share of
// replicas voting open and the failure rate.
func guardCell(gs []region.GuardSummary, name string) cell {
	for _, g := range gs {
		if g.Guard != name {
			continue
		}
		text := fmt.Sprintf("closed %d%% %.3g%%f", int(g.Share*100+0.5), g.FailureRate)
		if g.Open {
			return cell{text: fmt.Sprintf("OPEN %d%% %.3g%%f", int(g.Share*100+0.5), g.FailureRate), color: red}
		}
		return cell{text: text, color: green}
	}
	return plain("-")
}

// writeRegionView prints one region's summary.
func writeRegionView(w io.Writer, v *region.RegionView, color bool) {
	fmt.Fprintf(w, "region %s: %d replicas; summary seq %d by %s, age %d\n", v.Region, v.Members, v.Seq, dash(v.By), v.Age)
	if v.Truncated > 0 {
		fmt.Fprintf(w, "%d more guards left out of the summary\n", v.Truncated)
	}
	if len(v.Guards) == 0 {
		return
	}
	fmt.Fprintln(w)
	t := &table{color: color, head: []string{"GUARD", "REGION SAYS", "OPEN REPLICAS", "STATE HERE", "FAILURE RATE", "LIMITER", "BULKHEAD"}}
	for _, g := range v.Guards {
		says := cell{text: "closed", color: green}
		if g.Open {
			says = cell{text: "OPEN", color: red}
		}
		name := g.Guard
		if g.Global {
			name += " (global)"
		}
		t.add(plain(name), says, plain(fmt.Sprintf("%d of %d", g.OpenReplicas, v.Members)), plain(dash(g.State)),
			plain(fmt.Sprintf("%.4g%% of %d", g.FailureRate, g.Calls)), plain(fmt.Sprintf("%d%%", int(g.LimiterUse*100+0.5))), plain(fmt.Sprintf("%d%%", int(g.BulkheadUse*100+0.5))))
	}
	t.write(w)
}
