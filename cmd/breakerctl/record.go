package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/record"
)

// rawBody is a request body client.send sends as is, with its media type.
type rawBody struct {
	data        []byte
	contentType string
}

func (a *app) recordCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Export or import the service's recording (state changes, overrides, policy versions, sampled calls)",
		Long: `The service records what its guards do (package record; admin.WithRecorder
serves it at /v1/recording). export saves the recording as JSON Lines; import
adds a recording to the service's (write token and --reason required; audited).
breakerctl replay runs a saved recording under another policy.`,
	}
	export := &cobra.Command{
		Use:     "export [FILE]",
		Short:   "Save the recording to FILE (standard output without one)",
		Example: "  breakerctl record export outage.jsonl",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("export takes at most FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			data, err := c.callText(cmd.Context(), "/v1/recording", "application/jsonl")
			if err != nil {
				return err
			}
			rec, err := record.Read(bytes.NewReader(data), 0)
			if err != nil {
				return refused(fmt.Errorf("the server's recording does not read back (not a breakerbox admin API? check --addr): %w", err))
			}
			if len(args) == 0 {
				_, err := a.stdout.Write(data)
				return err
			}
			if err := writeFileAtomic(args[0], data); err != nil {
				return usageErrorf("%v", err)
			}
			fmt.Fprintf(a.stderr, "saved %d events (%d bytes) to %s\n", len(rec.Events), len(data), args[0])
			return nil
		},
	}
	var reason string
	var asJSON bool
	imp := &cobra.Command{
		Use:     "import FILE --reason TEXT",
		Short:   "Add a saved recording to the service's (audited)",
		Example: `  breakerctl record import outage.jsonl --reason "bring back last week's outage"`,
		Args:    exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageErrorf("import needs --reason (recorded in the audit log)")
			}
			data, _, err := readRecording(args[0])
			if err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var res wire.RecordingImportResult
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/recording", url.Values{"reason": {reason}}, rawBody{data, "application/jsonl"}, &res)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			fmt.Fprintf(a.stdout, "imported %d events (audit #%d)\n", res.Events, res.AuditSeq)
			return nil
		},
	}
	imp.Flags().StringVarP(&reason, "reason", "r", "", "why (required; recorded in the audit log)")
	imp.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(export, imp)
	return cmd
}

// readRecording reads and checks a recording file; a bad one is refused
// with its line named.
func readRecording(path string) ([]byte, *record.Recording, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageErrorf("%v", err)
	}
	rec, err := record.Read(bytes.NewReader(data), 0)
	if err != nil {
		return nil, nil, refused(fmt.Errorf("%s: %w", path, err))
	}
	return data, rec, nil
}
