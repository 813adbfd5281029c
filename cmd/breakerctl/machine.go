package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/machine"
)

// machineCommand is "breakerctl machine": guards' custom states
// (docs/custom-states.md).
func (a *app) machineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "machine",
		Short: "Show, draw and move the custom states of guards",
		Long: `Custom states are a policy's machine section: states beyond closed, open and
half-open (a degraded state that admits a share of calls, a read-only state
that admits only calls marked read) and the transitions between them
(docs/custom-states.md).`,
	}
	cmd.AddCommand(a.machineListCommand(), a.machineShowCommand(), a.machineDiagramCommand(), a.machineSetCommand())
	return cmd
}

func (a *app) machineListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the guards that run custom states, with their current state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var l wire.MachineList
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/machines", nil, nil, &l)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			if len(l.Machines) == 0 {
				fmt.Fprintln(a.stdout, "no guard's policy has custom states")
				return nil
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			t := &table{color: color, head: []string{"GUARD", "POLICY", "STATE", "FOR", "CALLS", "FAILURES", "REJECTED", "TRANSITIONS"}}
			now := time.Now()
			for _, m := range l.Machines {
				s := m.Status
				since := "-"
				if s.Since != nil {
					since = humanDuration(now.Sub(*s.Since))
				}
				t.add(plain(m.Guard), plain(m.Policy), plain(s.State), plain(since), plain(strconv.Itoa(s.Calls)), plain(strconv.Itoa(s.Failures)),
					plain(strconv.FormatUint(s.Rejected, 10)), plain(strconv.FormatUint(s.Transitions, 10)))
			}
			t.write(a.stdout)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// getMachine reads one guard's machine from the server.
func (a *app) getMachine(cmd *cobra.Command, guard string) (wire.GuardMachine, []byte, error) {
	c, err := a.newClient()
	if err != nil {
		return wire.GuardMachine{}, nil, err
	}
	var l wire.MachineList
	raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/machines", url.Values{"guard": {guard}}, nil, &l)
	if err != nil {
		return wire.GuardMachine{}, raw, err
	}
	if len(l.Machines) != 1 {
		return wire.GuardMachine{}, raw, refused(fmt.Errorf("GET /v1/machines?guard=%s: %d machines in the answer, want 1", guard, len(l.Machines)))
	}
	return l.Machines[0], raw, nil
}

func (a *app) machineShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show GUARD",
		Short:   "Show a guard's custom states: the current one, every state and transition, and the diagram",
		Example: "  breakerctl machine show inventory\n  breakerctl machine show 'GET /stock/{sku}' --json",
		Args:    exactArgs(1, "GUARD"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, raw, err := a.getMachine(cmd, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			a.writeMachine(&m)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) writeMachine(m *wire.GuardMachine) {
	s := m.Status
	since := "before its first call"
	if s.Since != nil {
		since = "since " + fmtTime(*s.Since)
	}
	fmt.Fprintf(a.stdout, "guard %s (policy %s): state %s, %s\n", m.Guard, m.Policy, s.State, since)
	fmt.Fprintf(a.stdout, "window: %d of the last %d calls, %d failed, %d slow; runs: %d failures, %d successes\n",
		s.Calls, m.Window, s.Failures, s.Slow, s.ConsecutiveFailures, s.ConsecutiveSuccesses)
	fmt.Fprintf(a.stdout, "admitted %d, rejected %d, transitions %d\n\nstates:\n", s.Admitted, s.Rejected, s.Transitions)
	for _, st := range m.States {
		mark := "  "
		if st.Name == s.State {
			mark = "* "
		}
		admit := st.Admit
		if st.Admit == machine.AdmitPercent {
			admit += " " + strconv.FormatFloat(st.Percent, 'g', -1, 64)
		}
		if st.Manual {
			admit += ", manual"
		}
		if st.Name == m.Initial {
			admit += ", initial"
		}
		fmt.Fprintf(a.stdout, "  %s%s (%s)\n", mark, st.Name, admit)
	}
	fmt.Fprintln(a.stdout, "\ntransitions, in the order they are tried:")
	for _, t := range m.Transitions {
		fmt.Fprintf(a.stdout, "  %s -> %s when %s\n", t.From, t.To, t.When)
	}
	fmt.Fprintf(a.stdout, "\n%s", m.Mermaid)
}

func (a *app) machineDiagramCommand() *cobra.Command {
	var file, policy, format string
	cmd := &cobra.Command{
		Use:   "diagram (GUARD | --policy FILE [--name POLICY]) [--format mermaid|dot]",
		Short: "Draw custom states as a Mermaid or Graphviz diagram, from a guard or a policy file",
		Long: `Print the custom states of a guard (read from the server, its current state
highlighted) or of the policies of a policy file (read offline: every policy
with a machine section, or the one --name names) as a Mermaid
stateDiagram-v2 or as Graphviz DOT.`,
		Example: `  breakerctl machine diagram inventory
  breakerctl machine diagram --policy examples/policies/custom-states.yaml --format dot | dot -Tsvg > states.svg`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != machine.FormatMermaid && format != machine.FormatDOT {
				return usageErrorf("--format %q: want mermaid or dot", format)
			}
			switch {
			case file != "" && len(args) > 0:
				return usageErrorf("diagram takes a GUARD or --policy FILE, not both")
			case file == "" && len(args) != 1:
				return usageErrorf("diagram takes a GUARD or --policy FILE")
			case file == "" && policy != "":
				return usageErrorf("--name goes with --policy FILE")
			}
			if file == "" {
				m, _, err := a.getMachine(cmd, args[0])
				if err != nil {
					return err
				}
				if format == machine.FormatDOT {
					fmt.Fprint(a.stdout, m.DOT)
				} else {
					fmt.Fprint(a.stdout, m.Mermaid)
				}
				return nil
			}
			return a.diagramFromFile(file, policy, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "policy", "", "a policy document (YAML or JSON, a file or a directory) to draw offline")
	f.StringVar(&policy, "name", "", "with --policy: the policy to draw (default: every policy with a machine section)")
	f.StringVar(&format, "format", machine.FormatMermaid, "mermaid or dot")
	return cmd
}

// diagramFromFile draws the machines of a policy file, each policy merged
// with its Extends chain as guards run it.
func (a *app) diagramFromFile(file, name, format string) error {
	doc, err := loadPolicies(file)
	var de *core.DocumentError
	if errors.As(err, &de) {
		return problemsError(a.stderr, file, de.Problems)
	}
	if err != nil {
		return err
	}
	reg, err := core.NewRegistry()
	if err != nil {
		return err
	}
	if _, err := reg.Apply(doc); err != nil {
		return refused(err)
	}
	var drawn []string
	for _, p := range doc.Policies {
		if name != "" && p.Name != name {
			continue
		}
		rp, err := reg.Policy(p.Name)
		if err != nil || rp.Machine == nil {
			if name != "" {
				return refused(fmt.Errorf("policy %q has no machine section", name))
			}
			continue
		}
		g, err := rp.Machine.Compile()
		if err != nil { // checked with the document
			return refused(fmt.Errorf("policy %q: %w", p.Name, err))
		}
		if len(drawn) > 0 {
			fmt.Fprintln(a.stdout)
		}
		if format == machine.FormatDOT {
			fmt.Fprintf(a.stdout, "// policy %s\n%s", p.Name, strings.Replace(g.DOT(""), "digraph machine", "digraph "+strconv.Quote(p.Name), 1))
		} else {
			fmt.Fprintf(a.stdout, "%%%% policy %s\n%s", p.Name, g.Mermaid(""))
		}
		drawn = append(drawn, p.Name)
	}
	if len(drawn) == 0 {
		if name != "" {
			return refused(fmt.Errorf("%s has no policy called %q", file, name))
		}
		return refused(fmt.Errorf("%s: no policy has a machine section", file))
	}
	return nil
}

func (a *app) machineSetCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "set GUARD STATE --reason TEXT",
		Short:   "Move a guard to one of its custom states, whatever its conditions say (audited)",
		Example: `  breakerctl machine set inventory maintenance --reason "db upgrade"`,
		Args:    exactArgs(2, "GUARD STATE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(reason); err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var res wire.MachineStateResult
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/machines/"+pathSegment(args[0])+"/state", nil,
				wire.MachineStateRequest{State: args[1], Reason: reason}, &res)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			fmt.Fprintf(a.stdout, "%s: %s -> %s (audit #%d)\n", res.Guard, res.From, res.To, res.AuditSeq)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// pathSegment escapes a guard's name as one path segment, as
// wire.GuardPath does: url.PathEscape leaves "." and ".." as they are, and
// a ServeMux in front of the admin API cleans them away, so that "machine
// set .. x" asked for /v1/state.
func pathSegment(name string) string {
	switch e := url.PathEscape(name); e {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	default:
		return e
	}
}
