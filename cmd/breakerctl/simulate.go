package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/sim/scenario"
)

// simulateCommand is `breakerctl simulate` (issue #24): a scenario of
// traffic, failures and latency run against a policy on a virtual clock.
func (a *app) simulateCommand() *cobra.Command {
	var policyPath, scenarioPath, guard, outPNG, outSVG string
	var asJSON bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "simulate --policy FILE|DIR --scenario FILE",
		Short: "What would a policy do under this traffic? Simulate a scenario and chart it",
		Long: `Run a scenario (traffic rate, failure rate and latency over time: ramps,
outages, brown-outs) against the guard a policy document gives the scenario's
guard, on a virtual clock: a real registry, driven through its explicit-time
API, with retries decided as Do decides them. Prints a summary (trips, time
open, calls rejected and failed, retries, latency percentiles); writes a
timeline chart (breaker state, failure rate, calls and rejections, retries,
concurrency) as PNG and SVG. Runs locally; no server; reads no clock: the
same scenario and seed give the same output, byte for byte.

A scenario or policy document that is not right is refused with its line and
column named. The scenario format is in docs/simulate.md.`,
		Example: "  breakerctl simulate --policy policies/ --scenario outage.yaml\n" +
			"  breakerctl simulate --policy payments.yaml --scenario outage.yaml --out-png outage.png --out-svg outage.svg\n" +
			"  breakerctl simulate --policy payments.yaml --scenario outage.yaml --seed 7 --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policyPath == "" || scenarioPath == "" {
				return usageErrorf("simulate needs --policy FILE|DIR and --scenario FILE")
			}
			sc, err := readScenario(a.stderr, scenarioPath)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("guard") {
				if guard == "" {
					return usageErrorf("--guard: the guard name must not be empty")
				}
				sc.Guard = guard
			}
			if cmd.Flags().Changed("seed") {
				sc.Seed = seed
			}
			doc, err := loadPolicies(policyPath)
			if de := (*core.DocumentError)(nil); errors.As(err, &de) {
				return problemsError(a.stderr, policyPath, de.Problems)
			} else if err != nil {
				return err
			}
			tl, err := scenario.Run(sc, doc)
			if err != nil {
				return refused(err)
			}
			for _, out := range []struct {
				path   string
				render func(io.Writer) error
			}{{outPNG, tl.PNG}, {outSVG, tl.SVG}} {
				if out.path == "" {
					continue
				}
				if err := writeChart(out.path, out.render); err != nil {
					return refused(err)
				}
			}
			if asJSON {
				b, err := json.Marshal(tl)
				if err != nil {
					return refused(err)
				}
				return a.printJSON(b)
			}
			_, err = fmt.Fprint(a.stdout, tl.Text())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyPath, "policy", "", "policy document: a YAML or JSON file, or a directory")
	f.StringVar(&scenarioPath, "scenario", "", "scenario file (YAML or JSON; see docs/simulate.md)")
	f.StringVar(&guard, "guard", "", "simulate this guard (default: the scenario's guard)")
	f.StringVar(&outPNG, "out-png", "", "write the timeline chart as PNG to this file")
	f.StringVar(&outSVG, "out-svg", "", "write the timeline chart as SVG to this file")
	f.BoolVar(&asJSON, "json", false, "print the timeline (points, transitions, summary) as JSON")
	f.Uint64Var(&seed, "seed", 0, "seed of the random draws (default: the scenario's seed)")
	return cmd
}

// readScenario reads and parses a scenario file; a refused one has its
// problems printed to w, one a line as file:line:column: field: message.
func readScenario(w io.Writer, path string) (*scenario.Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, scenario.MaxBytes+1))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	sc, err := scenario.Parse(path, data)
	var se *scenario.Error
	if errors.As(err, &se) {
		for _, p := range se.Problems {
			fmt.Fprintln(w, p.String())
		}
		return nil, refused(fmt.Errorf("%s: %d problem%s", path, len(se.Problems), plural(len(se.Problems))))
	}
	return sc, err
}

// writeChart renders a chart in memory and writes it to path.
func writeChart(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
