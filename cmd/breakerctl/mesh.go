package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/mesh"
)

// meshCommand is "breakerctl mesh": policy documents as service-mesh
// configuration.
func (a *app) meshCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "Turn policy documents into service-mesh configuration",
		Long: `Turn breakerbox policy documents into the configuration of a service mesh
(Istio, Linkerd or Envoy), with a loss report of what the mesh cannot
express. See docs/mesh.md for the mapping.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("mesh needs a subcommand: export")
		},
	}
	cmd.AddCommand(a.meshExportCommand())
	return cmd
}

func (a *app) meshExportCommand() *cobra.Command {
	var (
		format, path, lossFile string
		opts                   mesh.Options
	)
	cmd := &cobra.Command{
		Use:   "export --format istio|linkerd|envoy --policy FILE|DIR [--service HOST] [--port N]",
		Short: "Write Istio, Linkerd or Envoy configuration for a policy document",
		Long: `Write the service-mesh configuration of a policy document (a file, or a
directory of them as one document) to standard output, as YAML:

  istio    a DestinationRule (connection pool, outlier detection) and a
           VirtualService (retries, timeout) per policy
  linkerd  the Service's failure-accrual annotations and an HTTPRoute with
           Linkerd's retry and timeout annotations per policy
  envoy    a Cluster (circuit_breakers, outlier_detection) per policy

Every policy is exported, each to the host its match patterns name (or its
own name); --service HOST exports only the policy that guards calls to HOST.

The output starts with the loss report, as comments: what the mesh cannot
express of each policy (lost), what it expresses differently
(approximated), and warnings, such as mesh retries multiplying the
application's. --loss-report FILE also writes it as JSON ("-" for standard
error). A summary line goes to standard error.`,
		Example: `  breakerctl mesh export --format istio --policy policies/ > mesh.yaml
  breakerctl mesh export --format linkerd --policy checkout.yaml --service inventory --port 8080
  breakerctl mesh export --format envoy --policy checkout.yaml --loss-report loss.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := mesh.ParseFormat(format)
			if err != nil {
				return usageErrorf("--format: %q is not istio, linkerd or envoy", format)
			}
			if path == "" {
				return usageErrorf("--policy FILE|DIR is required")
			}
			if opts.Port < 0 || opts.Port > 65535 {
				return usageErrorf("--port: %d is not a port (1-65535)", opts.Port)
			}
			doc, err := a.loadOrPrint(path)
			if err != nil {
				return err
			}
			res, err := mesh.Export(doc, f, opts)
			switch {
			case errors.Is(err, mesh.ErrNoPolicy):
				return usageErrorf("--service: %v", err)
			case errors.Is(err, mesh.ErrOption):
				return usageErrorf("%v", err)
			case err != nil:
				return refused(err)
			}
			out, err := res.YAML()
			if err != nil {
				return err
			}
			if _, err := a.stdout.Write(out); err != nil {
				return err
			}
			if lossFile != "" {
				if err := a.writeLossReport(lossFile, res.Loss); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.stderr, "breakerctl: mesh export: %d object%s; loss report: %s\n", len(res.Objects), plural(len(res.Objects)), lossSummary(res.Loss))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "mesh: istio, linkerd or envoy (required)")
	fl.StringVar(&path, "policy", "", "policy document: a YAML or JSON file, or a directory of them (required)")
	fl.StringVar(&opts.Service, "service", "", "destination host: export only the policy guarding calls to it")
	fl.IntVar(&opts.Port, "port", 0, "destination port (default: every port; Envoy's endpoint uses 80)")
	fl.StringVar(&opts.Namespace, "namespace", "", "Kubernetes namespace of the objects written (Istio, Linkerd)")
	fl.StringVar(&lossFile, "loss-report", "", `also write the loss report as JSON to FILE ("-": standard error)`)
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("istio", "linkerd", "envoy"))
	return cmd
}

// writeLossReport writes the loss report as JSON to file, or to standard
// error for "-".
func (a *app) writeLossReport(file string, loss []mesh.Loss) error {
	if loss == nil {
		loss = []mesh.Loss{}
	}
	b, err := json.MarshalIndent(loss, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if file == "-" {
		_, err = a.stderr.Write(b)
		return err
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return usageErrorf("--loss-report: %v", err)
	}
	return nil
}

// lossSummary counts the entries of a loss report by kind.
func lossSummary(loss []mesh.Loss) string {
	n := map[mesh.LossKind]int{}
	for _, l := range loss {
		n[l.Kind]++
	}
	return fmt.Sprintf("%d lost, %d approximated, %d warning%s (see the comments at the top)", n[mesh.Lost], n[mesh.Approximated], n[mesh.Warning], plural(n[mesh.Warning]))
}
