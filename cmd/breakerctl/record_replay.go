package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/policyfile"
	"github.com/breakerbox/breakerbox/replay"
)

func (a *app) replayCommand() *cobra.Command {
	var policyPath, versionsPath string
	var pinVersion uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay REC --policy FILE|DIR | --versions STORE [--pin-version V]",
		Short: "What would a policy have done? Replay a recording under it and compare",
		Long: `Run the call outcomes of a recording (breakerctl record export) through
guards built from a policy document, on a virtual clock, and print per guard
what the recorded run did and what the replay does: trips, time open, calls
rejected, calls that failed, and calls the replay admits whose outcome the
recording lacks (the recorded run rejected them). Runs locally; no server.

With --policy the replay runs that document throughout. With --versions (a
policy.FileStore file, the JSON-lines history of policy versions; or a
directory holding a document per version: 3.yaml, 3.json or a directory 3/,
"v3" alike) it follows the recording instead: where the recording says a policy version
became live, the replay applies that version's document, as a hot reload
keeping the guards' state, so that a run whose policy changed replays as it
ran; --pin-version V runs the stored version V throughout instead. The
report gives the figures per policy version too.

A recording, or a policy document, that is not right is refused with its
line named.`,
		Example: "  breakerctl replay outage.jsonl --policy policies/\n  breakerctl replay outage.jsonl --policy strict.yaml --json\n  breakerctl replay outage.jsonl --versions policy-history.jsonl\n  breakerctl replay outage.jsonl --versions policy-history.jsonl --pin-version 3",
		Args:    exactArgs(1, "REC (a recording file)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case policyPath == "" && versionsPath == "":
				return usageErrorf("replay needs --policy FILE|DIR or --versions STORE")
			case policyPath != "" && versionsPath != "":
				return usageErrorf("replay takes --policy or --versions, not both (--pin-version V runs one stored version)")
			case pinVersion != 0 && versionsPath == "":
				return usageErrorf("--pin-version needs --versions STORE")
			}
			_, rec, err := readRecording(args[0])
			if err != nil {
				return err
			}
			var doc core.Document
			var opts replay.Options
			if versionsPath != "" {
				st, err := os.Stat(versionsPath)
				if err != nil {
					return usageErrorf("--versions: %v", err)
				}
				var versions func(uint64) (core.Document, error)
				if st.IsDir() {
					versions = dirVersions(versionsPath)
				} else {
					store, err := policy.OpenFileStore(versionsPath)
					if err != nil {
						return refused(err)
					}
					defer store.Close()
					versions = replay.StoreVersions(context.Background(), store)
				}
				if pinVersion != 0 {
					if doc, err = versions(pinVersion); err != nil {
						return refused(fmt.Errorf("--pin-version %d: %w", pinVersion, err))
					}
				} else {
					opts.Versions = versions
				}
			} else {
				doc, err = loadPolicies(policyPath)
				if de := (*core.DocumentError)(nil); errors.As(err, &de) {
					return problemsError(a.stderr, policyPath, de.Problems)
				} else if err != nil {
					return err
				}
			}
			rep, err := replay.RunWith(rec, doc, opts)
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
	cmd.Flags().StringVar(&versionsPath, "versions", "", "follow the recorded policy versions, read from this policy version store (a policy.FileStore file, or a directory of documents named by version)")
	cmd.Flags().Uint64Var(&pinVersion, "pin-version", 0, "with --versions: run this stored version throughout instead")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// dirVersions reads policy version v from dir: the document N.yaml,
// N.yml, N.json or the directory N (or vN alike), N being v.
func dirVersions(dir string) func(v uint64) (core.Document, error) {
	return func(v uint64) (core.Document, error) {
		n := strconv.FormatUint(v, 10)
		for _, name := range []string{n, "v" + n} {
			for _, ext := range []string{"", ".yaml", ".yml", ".json"} {
				path := filepath.Join(dir, name+ext)
				if _, err := os.Stat(path); err == nil {
					return policyfile.Load(path)
				}
			}
		}
		return core.Document{}, fmt.Errorf("%w: no %s.yaml, %s.json or %s/ in %s", policy.ErrNoVersion, n, n, n, dir)
	}
}
