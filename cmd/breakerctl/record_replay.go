package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/replay"
)

func (a *app) replayCommand() *cobra.Command {
	var policyPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay REC --policy FILE|DIR",
		Short: "What would a policy have done? Replay a recording under it and compare",
		Long: `Run the call outcomes of a recording (breakerctl record export) through
guards built from a policy document, on a virtual clock, and print per guard
what the recorded run did and what the replay does: trips, time open, calls
rejected, calls that failed, and calls the replay admits whose outcome the
recording lacks (the recorded run rejected them). Runs locally; no server.

A recording, or a policy document, that is not right is refused with its
line named.`,
		Example: "  breakerctl replay outage.jsonl --policy policies/\n  breakerctl replay outage.jsonl --policy strict.yaml --json",
		Args:    exactArgs(1, "REC (a recording file)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
				return usageErrorf("replay needs --policy FILE|DIR")
			}
			_, rec, err := readRecording(args[0])
			if err != nil {
				return err
			}
			doc, err := loadPolicies(policyPath)
			if de := (*core.DocumentError)(nil); errors.As(err, &de) {
				return problemsError(a.stderr, policyPath, de.Problems)
			} else if err != nil {
				return err
			}
			rep, err := replay.Run(rec, doc)
			if err != nil {
				return refused(err)
			}
			if asJSON {
				b, err := json.Marshal(rep)
				if err != nil {
					return refused(err)
				}
				return a.printJSON(b)
			}
			_, err = fmt.Fprint(a.stdout, rep.Text())
			return err
		},
	}
	cmd.Flags().StringVar(&policyPath, "policy", "", "policy document: a YAML or JSON file, or a directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
