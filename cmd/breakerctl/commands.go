package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// Environment variables read when the flags are not given.
const (
	envAddr      = "BREAKERBOX_ADDR"
	envToken     = "BREAKERBOX_TOKEN"
	envTokenFile = "BREAKERBOX_TOKEN_FILE"
)

// app holds the global flags and the process's streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	addr, token, tokenFile, color string
	timeout                       time.Duration
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "breakerctl",
		Short: "Operate breakerbox circuit breakers through the admin API",
		Long: `breakerctl shows and steers the circuit breakers of a service through
breakerbox's admin API.

The server is --addr (or ` + envAddr + `), such as http://127.0.0.1:9090/admin.
Writes need a write token and a --reason, recorded in the audit log with the
token's name.

The token is the first of, in order:
  --token TOKEN          on the command line (others on the host may see it
                         in the process list: prefer the next ones)
  --token-file FILE      the file's content, surrounding white space removed
  $` + envToken + `      the variable's value
  $` + envTokenFile + ` the content of the file it names
Giving both --token and --token-file is an error. Without a token, requests
go without one (enough for a server with open reads).

Exit codes: 0 ok, 1 the server refused or failed the operation, 2 usage
error, 3 the server cannot be reached.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// A bare "breakerctl" prints help; it is not an error.
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErrorf("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.addr, "addr", "", "admin API address, such as http://127.0.0.1:9090/admin (default $"+envAddr+")")
	pf.StringVar(&a.token, "token", "", "bearer token (visible in the process list; prefer --token-file or $"+envToken+")")
	pf.StringVar(&a.tokenFile, "token-file", "", "read the bearer token from this file (default $"+envTokenFile+")")
	pf.DurationVar(&a.timeout, "timeout", defaultTimeout, "timeout of each request")
	pf.StringVar(&a.color, "color", "auto", "colour tables: auto (on a terminal), always or never")
	_ = root.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))

	root.AddCommand(
		a.statusCommand(),
		a.opCommand(wire.OpOpen, "Force guards open (reject every call), until released or for a while",
			`Without --for or --until the breakers stay forced open until released.
With --for or --until they open until then, and then probe as after a trip.`),
		a.opCommand(wire.OpClose, "Force guards closed (admit every call, never trip) until released; same as disable", ""),
		a.opCommand(wire.OpDisable, "Disable guards' breakers (forced closed) until released", ""),
		a.opCommand(wire.OpMetricsOnly, "Put guards' breakers in metrics-only mode (record, never reject) until released", ""),
		a.opCommand(wire.OpReset, "Clear guards' breaker windows; an automatic breaker closes", ""),
		a.opCommand(wire.OpRelease, "Return guards in a manual state (a timed open included) to automatic operation", ""),
		a.pruneCommand(),
		a.snapshotCommand(),
		a.auditCommand(),
		a.policyCommand(),
		a.meshCommand(),
		a.maintenanceCommand(), // maintenance.go (issue #23)
		a.historyCommand(),     // history.go
		a.recordCommand(),      // record.go
		a.replayCommand(),      // record_replay.go
		a.chaosCommand(),       // chaos.go
		a.costCommand(),        // cost.go
		a.simulateCommand(),    // simulate.go (issue #24)
		a.testgenCommand(),     // testgen.go
		a.machineCommand(),     // machine.go
		a.fleetCommand(),       // fleet.go (issue #20)
		a.regionsCommand(),     // regions.go (issue #26)
		a.quotasCommand(),      // quotas.go (issue #26)
	)
	return root
}

func fixedCompletion(vals ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionList asks the server for guards, for shell completion; any
// failure completes nothing.
func (a *app) completionList(cmd *cobra.Command) *wire.GuardList {
	c, err := a.newClient()
	if err != nil {
		return nil
	}
	c.hc.Timeout = 2 * time.Second
	var list wire.GuardList
	if _, err := c.call(cmd.Context(), http.MethodGet, "/v1/guards", nil, nil, &list); err != nil {
		return nil
	}
	return &list
}

func (a *app) completeGuards(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	if list := a.completionList(cmd); list != nil {
		for _, g := range list.Guards {
			out = append(out, g.Name+"\t"+g.State.String())
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) completeTags(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	seen := map[string]bool{}
	var out []string
	if list := a.completionList(cmd); list != nil {
		for _, g := range list.Guards {
			for _, t := range g.Tags {
				if !seen[t] {
					seen[t] = true
					out = append(out, t)
				}
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// printJSON writes an API answer indented, as received.
func (a *app) printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := a.stdout.Write(buf.Bytes())
	return err
}

func (a *app) statusCommand() *cobra.Command {
	var tag, state string
	var asJSON, watch bool
	interval := 2 * time.Second
	cmd := &cobra.Command{
		Use:   "status [NAME | --tag TAG] [--json] [--watch]",
		Short: "Show guards: state, failure rate, calls, rejections, open-until",
		Example: `  breakerctl status
  breakerctl status payments.charge
  breakerctl status --tag stripe --watch`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeGuards,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (tag != "" || state != "") {
				return usageErrorf("give a NAME or --tag/--state, not both")
			}
			if watch && interval <= 0 {
				return usageErrorf("--interval %v must be positive", interval)
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			render := func(ctx context.Context, w io.Writer) error {
				if len(args) == 1 {
					var g wire.GuardStatus
					raw, err := c.call(ctx, http.MethodGet, guardPath(args[0]), nil, nil, &g)
					if err != nil {
						return err
					}
					if asJSON {
						return writeCompactOrIndented(w, raw, watch)
					}
					a.writeGuard(w, &g, time.Now(), color)
					return nil
				}
				q := url.Values{}
				if tag != "" {
					q.Set("tag", tag)
				}
				if state != "" {
					q.Set("state", state)
				}
				var list wire.GuardList
				raw, err := c.call(ctx, http.MethodGet, "/v1/guards", q, nil, &list)
				if err != nil {
					return err
				}
				if asJSON {
					return writeCompactOrIndented(w, raw, watch)
				}
				if len(list.Guards) == 0 {
					fmt.Fprintln(w, "no guards")
					return nil
				}
				a.statusTable(&list, color).write(w)
				return nil
			}
			if !watch {
				return render(cmd.Context(), a.stdout)
			}
			return a.watch(cmd.Context(), c, interval, asJSON, render)
		},
	}
	f := cmd.Flags()
	f.StringVar(&tag, "tag", "", "only guards carrying this tag")
	f.StringVar(&state, "state", "", "only guards in this state (closed, open, half-open, forced-open, disabled, metrics-only)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	f.BoolVarP(&watch, "watch", "w", false, "refresh on every change (read from the server's event stream) and every --interval, until interrupted")
	f.DurationVar(&interval, "interval", interval, "refresh interval of --watch (the only refresh when the server refuses the event stream)")
	_ = cmd.RegisterFlagCompletionFunc("tag", a.completeTags)
	_ = cmd.RegisterFlagCompletionFunc("state", fixedCompletion("closed", "open", "half-open", "forced-open", "disabled", "metrics-only"))
	return cmd
}

// writeCompactOrIndented prints JSON indented, or on one line per refresh
// when watching (a stream of JSON documents).
func writeCompactOrIndented(w io.Writer, raw []byte, compact bool) error {
	var buf bytes.Buffer
	var err error
	if compact {
		err = json.Compact(&buf, raw)
	} else {
		err = json.Indent(&buf, raw, "", "  ")
	}
	if err != nil {
		buf.Reset()
		buf.Write(bytes.TrimSpace(raw))
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// selector holds the --tag and --all flags of the write commands.
type selector struct {
	tag string
	all bool
}

func (s *selector) register(cmd *cobra.Command, a *app) {
	cmd.Flags().StringVar(&s.tag, "tag", "", "act on every guard carrying this tag")
	cmd.Flags().BoolVar(&s.all, "all", false, "act on every guard")
	_ = cmd.RegisterFlagCompletionFunc("tag", a.completeTags)
}

// target picks exactly one of NAME, --tag and --all.
func (s *selector) target(args []string) (wire.Target, error) {
	t := wire.Target{Tag: s.tag, All: s.all}
	if len(args) == 1 {
		t.Name = args[0]
	}
	n := 0
	for _, set := range []bool{t.Name != "", t.Tag != "", t.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return t, usageErrorf("select the guards with exactly one of NAME, --tag TAG or --all")
	}
	return t, nil
}

func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return usageErrorf("--reason is required: say why, for the audit log")
	}
	return nil
}

func (a *app) opCommand(op wire.Op, short, long string) *cobra.Command {
	var sel selector
	var reason, until string
	var forD time.Duration
	var asJSON, toFleet bool
	cmd := &cobra.Command{
		Use:               string(op) + " [NAME | --tag TAG | --all] --reason REASON",
		Short:             short,
		Long:              strings.TrimSpace(short + ".\n\n" + long),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeGuards,
		Example:           fmt.Sprintf("  breakerctl %s payments.charge --reason \"incident 4711\"\n  breakerctl %s --tag stripe --reason \"provider maintenance\"", op, op),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := sel.target(args)
			if err != nil {
				return err
			}
			if err := checkReason(reason); err != nil {
				return err
			}
			if toFleet { // fleet.go (issue #20)
				return a.fleetOp(cmd.Context(), op, t, reason, forD != 0 || until != "", asJSON)
			}
			req := wire.OperationRequest{Name: t.Name, Tag: t.Tag, All: t.All, Reason: reason}
			if op == wire.OpOpen {
				switch {
				case forD != 0 && until != "":
					return usageErrorf("--for and --until are exclusive")
				case forD < 0:
					return usageErrorf("--for %v must be positive", forD)
				case forD > 0:
					req.Duration = core.Duration(forD)
				case until != "":
					u, err := time.Parse(time.RFC3339, until)
					if err != nil {
						return usageErrorf("--until %q is not an RFC 3339 time such as 2006-01-02T15:04:05Z", until)
					}
					req.Until = &u
				}
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var res wire.OperationResult
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/operations/"+url.PathEscape(string(op)), nil, req, &res)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			fmt.Fprintf(a.stdout, "%s %s by %s: %d guard%s (audit #%d)\n", res.Op, res.Target, res.Actor, len(res.Changes), plural(len(res.Changes)), res.AuditSeq)
			if len(res.Changes) > 0 {
				changesTable(res.Changes, time.Now(), color).write(a.stdout)
			}
			return nil
		},
	}
	sel.register(cmd, a)
	f := cmd.Flags()
	f.StringVarP(&reason, "reason", "r", "", "why (required; recorded in the audit log)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	if _, ok := fleetActionOf[op]; ok { // fleet.go (issue #20)
		f.BoolVar(&toFleet, "fleet", false, "act on every replica of the fleet (POST /v1/fleet/actions), not on this one alone")
	}
	if op == wire.OpOpen {
		f.DurationVar(&forD, "for", 0, "open for this long (such as 30m), then probe")
		f.StringVar(&until, "until", "", "open until this RFC 3339 time, then probe")
	}
	return cmd
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (a *app) pruneCommand() *cobra.Command {
	var idle time.Duration
	var dryRun, asJSON bool
	var reason string
	cmd := &cobra.Command{
		Use:   "prune --idle DURATION [--dry-run] --reason REASON",
		Short: "Remove guards that saw no call for a while",
		Long: `Remove guards that saw no call for at least --idle. Guards in a manual
state, open, or with calls in flight are kept. A removed guard is created
afresh on its next use.

--dry-run lists the guards that would go, with a read token and no reason;
it may list fewer than a real prune removes.`,
		Example: "  breakerctl prune --idle 24h --dry-run\n  breakerctl prune --idle 24h --reason \"weekly cleanup\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("idle") {
				return usageErrorf("--idle is required, such as --idle 24h")
			}
			if idle <= 0 {
				return usageErrorf("--idle %v must be positive", idle)
			}
			if !dryRun {
				if err := checkReason(reason); err != nil {
					return err
				}
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var res wire.PruneResult
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/prune", nil, wire.PruneRequest{Idle: core.Duration(idle), DryRun: dryRun, Reason: reason}, &res)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			verb := "pruned"
			if dryRun {
				verb = "would prune"
			}
			fmt.Fprintf(a.stdout, "%s %d guard%s idle for %v", verb, len(res.Pruned), plural(len(res.Pruned)), idle)
			if res.AuditSeq > 0 {
				fmt.Fprintf(a.stdout, " (audit #%d)", res.AuditSeq)
			}
			fmt.Fprintln(a.stdout)
			for _, n := range res.Pruned {
				fmt.Fprintln(a.stdout, "  "+n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&idle, "idle", 0, "how long a guard must have been idle (required)")
	f.BoolVar(&dryRun, "dry-run", false, "only list the guards that would be pruned")
	f.StringVarP(&reason, "reason", "r", "", "why (required unless --dry-run)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save or restore every guard's state and manual overrides",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("snapshot needs a subcommand: save FILE or restore FILE")
		},
	}
	save := &cobra.Command{
		Use:   "save FILE",
		Short: "Save a snapshot document to FILE (- for standard output)",
		Long: `Save a snapshot document to FILE (- for standard output). A new file gets
mode 0600; a file that exists is replaced, keeping its mode if that is
narrower.`,
		Example: "  breakerctl snapshot save before-deploy.json",
		Args:    exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var doc wire.Snapshot
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/snapshot", nil, nil, &doc)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				return refused(fmt.Errorf("the snapshot is not JSON: %w", err))
			}
			buf.WriteByte('\n')
			if args[0] == "-" {
				_, err := a.stdout.Write(buf.Bytes())
				return err
			}
			if err := writeFileAtomic(args[0], buf.Bytes()); err != nil {
				return refused(err)
			}
			n := 0
			for _, g := range doc.Guards {
				if g.Override != nil {
					n++
				}
			}
			fmt.Fprintf(a.stdout, "saved %d guard%s (%d with a manual override) to %s\n", len(doc.Guards), plural(len(doc.Guards)), n, args[0])
			return nil
		},
	}
	var reason string
	var asJSON bool
	restore := &cobra.Command{
		Use:   "restore FILE --reason REASON",
		Short: "Re-apply the manual overrides of a snapshot document (- for standard input)",
		Long: `Re-apply the manual overrides saved in FILE: forced-open, disabled,
metrics-only, and opens until a time still to come. Guards that do not exist
are created; guards the snapshot shows automatic are released.`,
		Example: "  breakerctl snapshot restore before-deploy.json --reason \"after restart\"",
		Args:    exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(reason); err != nil {
				return err
			}
			var data []byte
			var err error
			if args[0] == "-" {
				data, err = io.ReadAll(a.stdin)
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return usageErrorf("reading the snapshot: %v", err)
			}
			if !json.Valid(data) {
				return usageErrorf("%s is not a JSON snapshot document", args[0])
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			// The document goes to the server as it is, so that the server's
			// strict decoding checks the file itself.
			body := struct {
				Reason   string          `json:"reason"`
				Snapshot json.RawMessage `json:"snapshot"`
			}{reason, data}
			var res wire.RestoreResult
			raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/snapshot/restore", nil, body, &res)
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
			fmt.Fprintf(a.stdout, "restored %d guard%s (audit #%d)\n", len(res.Changes), plural(len(res.Changes)), res.AuditSeq)
			if len(res.Changes) > 0 {
				changesTable(res.Changes, time.Now(), color).write(a.stdout)
			}
			if len(res.Created) > 0 {
				fmt.Fprintln(a.stdout, "created:", strings.Join(res.Created, ", "))
			}
			if len(res.Skipped) > 0 {
				fmt.Fprintln(a.stdout, "skipped (open until a time already past):", strings.Join(res.Skipped, ", "))
			}
			return nil
		},
	}
	restore.Flags().StringVarP(&reason, "reason", "r", "", "why (required; recorded in the audit log)")
	restore.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(save, restore)
	return cmd
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s", cmd.Name(), what)
		}
		return nil
	}
}

// writeFileAtomic writes data to a temporary file beside name and renames
// it into place, so that a failed save never leaves half a snapshot. The
// file gets mode 0600 (a snapshot names operators and their reasons), or
// the mode of the file it replaces where that is narrower: a save never
// widens who may read the file.
func writeFileAtomic(name string, data []byte) error {
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(name); err == nil {
		mode &= fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (a *app) auditCommand() *cobra.Command {
	var since string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "audit [--since 24h | --since TIME] [--limit N]",
		Short:   "Show the audit log: who did what, why, and when",
		Example: "  breakerctl audit --since 24h\n  breakerctl audit --since 2025-01-02T15:00:00Z --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				q.Set("since", t.UTC().Format(time.RFC3339))
			}
			if limit < 0 {
				return usageErrorf("--limit %d must not be negative", limit)
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			recs := []wire.AuditRecord{}
			for after := uint64(0); ; {
				page := wire.MaxAuditLimit
				if limit > 0 {
					page = min(page, limit-len(recs))
				}
				q.Set("limit", strconv.Itoa(page))
				if after > 0 {
					q.Set("after", strconv.FormatUint(after, 10))
				}
				var p wire.AuditPage
				if _, err := c.call(cmd.Context(), http.MethodGet, "/v1/audit", q, nil, &p); err != nil {
					return err
				}
				recs = append(recs, p.Records...)
				if !p.More || limit > 0 && len(recs) >= limit || p.Next <= after {
					break
				}
				after = p.Next
			}
			if asJSON {
				b, err := json.MarshalIndent(wire.AuditPage{Records: recs}, "", "  ")
				if err != nil {
					return refused(err)
				}
				return a.printJSON(b)
			}
			if len(recs) == 0 {
				fmt.Fprintln(a.stdout, "no audit records")
				return nil
			}
			auditTable(recs, color).write(a.stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only records since this long ago (24h) or this RFC 3339 time")
	f.IntVar(&limit, "limit", 0, "at most this many records, the oldest first (0: all)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// parseSince reads a duration ago ("24h") or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, usageErrorf("--since %q must not be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--since %q is neither a duration (24h) nor an RFC 3339 time (2006-01-02T15:04:05Z)", s)
}
