package main

import (
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/fleet/quota"
)

// quotasCommand is "breakerctl quotas": the global limits (hierarchical
// leases) the process behind --addr takes part in (GET /v1/quotas).
func (a *app) quotasCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "quotas [--json]",
		Short: "Show the global limits this process shares: leases, rates and counts",
		Long: `Show each global limit (fleet/quota) the process behind --addr takes part in:
the resource's capacity and safe capacity; as coordinator, whether it holds
the root or its region's election (and is still learning), the region's
capacity and whether it is on a lease from the root, and the replicas it
serves; as limiter, the rate in force (a lease's or the safe share), the
calls allowed, rejected and allowed at the safe share, and store errors.`,
		Example: "  breakerctl quotas\n  breakerctl quotas --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var rep struct {
				Resources []quota.ResourceStats `json:"resources"`
			}
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/quotas", nil, nil, &rep)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			writeQuotas(a.stdout, rep.Resources)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// writeQuotas prints one row per resource.
func writeQuotas(w io.Writer, rs []quota.ResourceStats) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no global limit")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tCAPACITY\tSAFE\tCOORDINATOR\tREGION CAPACITY\tREPLICAS\tRATE\tALLOWED\tREJECTED\tBY SAFE SHARE\tSTORE ERRORS")
	for _, r := range rs {
		role, regCap, replicas := "-", "-", "-"
		var errs uint64
		if c := r.Coordinator; c != nil {
			role = "candidate"
			switch {
			case c.Root && c.Region:
				role = "root+region"
			case c.Root:
				role = "root"
			case c.Region:
				role = "region"
			}
			if c.RootLearning || c.RegionLearning {
				role += " (learning)"
			}
			if c.Region {
				regCap = fmt.Sprintf("%.4g/s", c.RegionCapacity)
				if !c.OnLease {
					regCap += " (safe)"
				}
				replicas = fmt.Sprint(c.Replicas)
			}
			if r.Region != "" {
				role += " in " + r.Region
			}
			errs += c.StoreErrors
		}
		rate, allowed, rejected, safe := "-", "-", "-", "-"
		if l := r.Limiter; l != nil {
			rate = fmt.Sprintf("%.4g/s", l.Rate)
			if !l.OnLease {
				rate += " (safe)"
			}
			allowed, rejected, safe = fmt.Sprint(l.Allowed), fmt.Sprint(l.Rejected), fmt.Sprint(l.AllowedBySafeCapacity)
			errs += l.StoreErrors
		}
		fmt.Fprintf(tw, "%s\t%.4g/s\t%.4g/s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Resource, r.Capacity, r.SafeCapacity, role, regCap, replicas, rate, allowed, rejected, safe, errs)
	}
	tw.Flush()
}
