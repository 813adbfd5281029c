package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/policyfile"
)

// policyCommand is "breakerctl policy": policy documents as code, checked
// and described locally, applied, rolled back and listed through the admin
// API.
func (a *app) policyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, compare, apply and roll back policy documents",
		Long: `Policy documents (YAML or JSON, one file or a directory of them) hold a
service's policies, tenant overlays and variants. lint, diff, schema and
docs work on files; apply, rollback, history, diff --live and docs --live
talk to the admin API (--addr). Every applied document becomes a numbered
version; rollback applies an old version again as a new one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("policy needs a subcommand: lint, diff, apply, rollback, history, schema or docs")
		},
	}
	cmd.AddCommand(
		a.policyLintCommand(),
		a.policyDiffCommand(),
		a.policyApplyCommand(),
		a.policyRollbackCommand(),
		a.policyHistoryCommand(),
		a.policySchemaCommand(),
		a.policyDocsCommand(),
	)
	return cmd
}

// loadPolicies reads the policy document in a file, or the documents of a
// directory as one, and checks it whole. A refused document is a
// *core.DocumentError; other errors (no such file) are usage errors.
func loadPolicies(path string) (core.Document, error) {
	doc, err := policyfile.Load(path)
	var de *core.DocumentError
	if err != nil && !errors.As(err, &de) {
		return core.Document{}, usageErrorf("%v", err)
	}
	return doc, err
}

// problemsError prints every problem of a refused document to w, one a
// line as file:line:column: path: message, and returns the exit error.
func problemsError(w io.Writer, what string, probs []core.Problem) error {
	for _, p := range probs {
		fmt.Fprintln(w, p.String())
	}
	return refused(fmt.Errorf("%s: %d problem%s", what, len(probs), plural(len(probs))))
}

func (a *app) policyLintCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lint FILE|DIR...",
		Short: "Check policy documents: syntax, schema, presets, extends, tenants, variants",
		Long: `Check policy documents without applying them. Each argument is a file
(YAML or JSON) or a directory whose files make one document. Every problem is
printed as file:line:column: path: message; the exit code is 1 when there is
any.

Fallback names cannot be checked here (the service registers them); apply
checks them on the server.`,
		Example: "  breakerctl policy lint policies/\n  breakerctl policy lint payments.yaml search.yaml",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("lint takes FILE or DIR (one or more)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			type result struct {
				Path     string         `json:"path"`
				Policies int            `json:"policies"`
				Problems []core.Problem `json:"problems"`
			}
			var results []result
			total := 0
			for _, path := range args {
				doc, err := loadPolicies(path)
				var de *core.DocumentError
				if err != nil && !errors.As(err, &de) {
					return err
				}
				r := result{Path: path, Policies: len(doc.Policies), Problems: []core.Problem{}}
				if de != nil {
					r.Problems = de.Problems
				}
				total += len(r.Problems)
				results = append(results, r)
			}
			if asJSON {
				b, err := json.MarshalIndent(results, "", "  ")
				if err != nil {
					return refused(err)
				}
				if err := a.printJSON(b); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if len(r.Problems) == 0 {
						fmt.Fprintf(a.stdout, "%s: ok (%d polic%s)\n", r.Path, r.Policies, pluralY(r.Policies))
					}
					for _, p := range r.Problems {
						fmt.Fprintln(a.stdout, p.String())
					}
				}
			}
			if total > 0 {
				return refused(fmt.Errorf("%d problem%s", total, plural(total)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems as JSON")
	return cmd
}

func pluralY(n int) string {
	if n == 1 {
		return "y"
	}
	return "ies"
}

// liveDocument fetches the live document (GET /v1/policies): an empty one
// when the server has no version yet.
func liveDocument(cmd *cobra.Command, c *client) (core.Document, error) {
	var rec wire.PolicyRecord
	var doc core.Document
	_, err := c.call(cmd.Context(), http.MethodGet, "/v1/policies", nil, nil, &rec)
	var p *wire.Problem
	if errors.As(err, &p) && p.Code == "no_policy_version" {
		return doc, nil
	}
	if err != nil {
		return doc, err
	}
	if err := json.Unmarshal(rec.Document, &doc); err != nil {
		return doc, refused(fmt.Errorf("the live document (version %d) does not decode: %v", rec.Version, err))
	}
	return doc, nil
}

func (a *app) policyDiffCommand() *cobra.Command {
	var live, asJSON, exitCodeFlag bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW | diff FILE|DIR --live",
		Short: "Compare two policy documents, or a document with the live version",
		Long: `Compare two policy documents (files or directories) by policy, variant and
tenant name: what is added, removed, and which fields changed, with their old
and new values. With --live, compare the live version on the server (old)
with FILE (new): what apply would change.

Documents are compared as written: a policy that extends another shows its
own fields, not the inherited ones.`,
		Example: "  breakerctl policy diff old/ new/\n  breakerctl policy diff policies/ --live",
		Args:    liveArgs(&live, 1, 2, "diff --live takes FILE or DIR", "diff takes OLD and NEW (files or directories), or FILE --live"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var old, cur core.Document
			var err error
			if live {
				if cur, err = a.loadOrPrint(args[0]); err != nil {
					return err
				}
				c, err := a.newClient()
				if err != nil {
					return err
				}
				if old, err = liveDocument(cmd, c); err != nil {
					return err
				}
			} else {
				if old, err = a.loadOrPrint(args[0]); err != nil {
					return err
				}
				if cur, err = a.loadOrPrint(args[1]); err != nil {
					return err
				}
			}
			d, err := diffDocuments(old, cur)
			if err != nil {
				return refused(err)
			}
			if asJSON {
				b, err := json.MarshalIndent(d, "", "  ")
				if err != nil {
					return refused(err)
				}
				if err := a.printJSON(b); err != nil {
					return err
				}
			} else {
				color, err := a.useColor()
				if err != nil {
					return err
				}
				d.write(a.stdout, color)
			}
			if exitCodeFlag && !d.empty() {
				return &exitError{exitRefused, errors.New("the documents differ")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&live, "live", false, "compare with the live version on the server")
	f.BoolVar(&asJSON, "json", false, "print the differences as JSON")
	f.BoolVar(&exitCodeFlag, "exit-code", false, "exit with 1 when the documents differ")
	return cmd
}

// liveArgs checks the arguments of a command with a --live flag: withLive
// of them with it, without of them without; the messages say what is
// expected.
func liveArgs(live *bool, withLive, without int, liveMsg, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case *live && len(args) != withLive:
			return usageErrorf("%s", liveMsg)
		case !*live && len(args) != without:
			return usageErrorf("%s", msg)
		}
		return nil
	}
}

// loadOrPrint loads a document; a refused one has its problems printed to
// standard error.
func (a *app) loadOrPrint(path string) (core.Document, error) {
	doc, err := loadPolicies(path)
	var de *core.DocumentError
	if errors.As(err, &de) {
		return doc, problemsError(a.stderr, path, de.Problems)
	}
	return doc, err
}

func (a *app) policyApplyCommand() *cobra.Command {
	var dryRun, asJSON bool
	var reason string
	cmd := &cobra.Command{
		Use:   "apply FILE|DIR --reason REASON [--dry-run]",
		Short: "Check a policy document and make it the live version",
		Long: `Check a policy document (a file, or a directory of them as one document)
and send it to the server (PUT /v1/policies), which checks it again, applies
it whole or not at all, and keeps it as the next version. The new version and
what it changed are printed: policies added, removed and changed, with the
changed fields as compared with the version that was live before.

A refused document changes nothing; every problem is printed. --dry-run
checks the document on the server and reports what it would change, without
applying or keeping it (no --reason needed).`,
		Example: "  breakerctl policy apply policies/ --dry-run\n  breakerctl policy apply policies/ --reason \"raise the stripe rate limit\"",
		Args:    exactArgs(1, "FILE or DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !dryRun {
				if err := checkReason(reason); err != nil {
					return err
				}
			}
			doc, err := a.loadOrPrint(args[0])
			if err != nil {
				return err
			}
			body, err := json.Marshal(doc)
			if err != nil {
				return refused(err)
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			return a.changePolicies(cmd, c, http.MethodPut, "/v1/policies",
				wire.PolicyApplyRequest{Document: body, Reason: reason, DryRun: dryRun}, doc, args[0], asJSON)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "check on the server and show what would change, without applying")
	f.StringVarP(&reason, "reason", "r", "", "why (required unless --dry-run; recorded with the version and in the audit log)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// changePolicies sends an apply or a rollback (body to method path) that
// makes after the live document, and prints the answer: the new version
// and what changed, the fields of changed policies compared with the
// document live before. source is the file or directory applied, for the
// positions of problems (see documentRefused).
func (a *app) changePolicies(cmd *cobra.Command, c *client, method, path string, body any, after core.Document, source string, asJSON bool) error {
	before, err := liveDocument(cmd, c)
	if err != nil {
		return err
	}
	var res wire.PolicyApplyResult
	raw, err := c.call(cmd.Context(), method, path, nil, body, &res)
	if err != nil {
		return a.documentRefused(err, source)
	}
	if asJSON {
		return a.printJSON(raw)
	}
	color, err := a.useColor()
	if err != nil {
		return err
	}
	verb := "applied"
	if res.DryRun {
		verb = "would apply"
	}
	a.writeApplyResult(verb, &res, before, after, color)
	return nil
}

// documentRefused prints every problem of a document the server refused
// (code invalid_policy_document) to standard error; other errors pass. The
// server knows the problems' paths, not where they are written: source,
// when not "", is the file or directory sent, and a problem gets the
// position the same path has there.
func (a *app) documentRefused(err error, source string) error {
	var p *wire.Problem
	if !errors.As(err, &p) || len(p.Problems) == 0 {
		return err
	}
	at := positions(source)
	for _, pr := range p.Problems {
		if pr.Line == 0 {
			if pos, ok := at[pr.Path]; ok {
				pr.File, pr.Line, pr.Column = pos.File, pos.Line, pos.Column
			}
		}
		fmt.Fprintln(a.stderr, pr.String())
	}
	return refused(fmt.Errorf("the server refused the document (%d problem%s): %w", len(p.Problems), plural(len(p.Problems)), p))
}

// positions maps field paths of the document at source to where they are
// written, as far as a local check finds them: it loads the document again
// with every fallback name refused (the one check lint cannot make), so
// that each fallback reference comes back with its position.
func positions(source string) map[string]core.Problem {
	out := map[string]core.Problem{}
	if source == "" {
		return out
	}
	_, err := policyfile.Load(source, policyfile.WithFallbacks())
	var de *core.DocumentError
	if errors.As(err, &de) {
		for _, p := range de.Problems {
			if p.Line > 0 && p.Path != "" {
				out[p.Path] = p
			}
		}
	}
	return out
}

// writeApplyResult prints the version an apply or rollback made and what
// changed; before and after give the changed fields.
func (a *app) writeApplyResult(verb string, res *wire.PolicyApplyResult, before, after core.Document, color bool) {
	r := res.Record
	what := shortHash(r.Hash)
	if r.Version != 0 { // a dry run has none
		what = fmt.Sprintf("version %d, %s", r.Version, what)
	}
	if r.RollbackOf != 0 {
		what += fmt.Sprintf(", version %d again", r.RollbackOf)
	}
	fmt.Fprintf(a.stdout, "%s %s: %d added, %d removed, %d changed, %d unchanged\n",
		verb, what, len(res.Added), len(res.Removed), len(res.Changed), len(res.Unchanged))
	d, err := diffDocuments(before, after)
	fields := map[string][]fieldChange{}
	if err == nil {
		for _, e := range d.Entries {
			if e.Kind == "policy" {
				fields[e.Name] = e.Fields
			}
		}
	}
	for _, n := range res.Added {
		writeEntry(a.stdout, entryDiff{Kind: "policy", Name: n, Change: "added"}, color)
	}
	for _, n := range res.Removed {
		writeEntry(a.stdout, entryDiff{Kind: "policy", Name: n, Change: "removed"}, color)
	}
	for _, n := range res.Changed {
		writeEntry(a.stdout, entryDiff{Kind: "policy", Name: n, Change: "changed", Fields: fields[n]}, color)
	}
	if err == nil {
		for _, e := range d.Entries {
			if e.Kind != "policy" { // variants, tenant overlays: not in the server's lists
				writeEntry(a.stdout, e, color)
			}
		}
	}
}

func (a *app) policyRollbackCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rollback VERSION --reason REASON",
		Short: "Apply an earlier version again, as a new version",
		Long: `Apply version VERSION of the policy history again (POST
/v1/policies/rollback). The history is never rewritten: the rollback is a new
version that records which one it re-applies.`,
		Example: "  breakerctl policy rollback 41 --reason \"version 42 trips payments\"",
		Args:    exactArgs(1, "VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || v == 0 {
				return usageErrorf("VERSION %q is not a version number (1, 2, ...; see breakerctl policy history)", args[0])
			}
			if err := checkReason(reason); err != nil {
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			// The document rolled back to, for the field-level changes.
			var target wire.PolicyRecord
			if _, err := c.call(cmd.Context(), http.MethodGet, "/v1/policies/versions/"+strconv.FormatUint(v, 10), nil, nil, &target); err != nil {
				return err
			}
			var after core.Document
			if err := json.Unmarshal(target.Document, &after); err != nil {
				return refused(fmt.Errorf("the document of version %d does not decode: %v", v, err))
			}
			return a.changePolicies(cmd, c, http.MethodPost, "/v1/policies/rollback",
				wire.PolicyRollbackRequest{Version: v, Reason: reason}, after, "", asJSON)
		},
	}
	cmd.Flags().StringVarP(&reason, "reason", "r", "", "why (required; recorded with the version and in the audit log)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) policyHistoryCommand() *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "history [--limit N]",
		Short:   "List the versions of the policy document, newest first",
		Example: "  breakerctl policy history --limit 10",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageErrorf("--limit %d must not be negative", limit)
			}
			q := url.Values{}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var h wire.PolicyHistory
			raw, err := c.call(cmd.Context(), http.MethodGet, "/v1/policies/history", q, nil, &h)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(raw)
			}
			if len(h.Versions) == 0 {
				fmt.Fprintln(a.stdout, "no versions")
				return nil
			}
			color, err := a.useColor()
			if err != nil {
				return err
			}
			historyTable(&h, color).write(a.stdout)
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many versions, the newest (0: the server's default, 100)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func historyTable(h *wire.PolicyHistory, color bool) *table {
	t := &table{color: color, head: []string{"VERSION", "TIME", "ACTOR", "SOURCE", "HASH", "REASON"}}
	for _, r := range h.Versions {
		v := cell{text: strconv.FormatUint(r.Version, 10)}
		if r.Live || r.Version == h.Live {
			v = cell{text: v.text + " (live)", color: green}
		}
		src := r.Source
		if r.RollbackOf != 0 {
			src = fmt.Sprintf("rollback of %d", r.RollbackOf)
		}
		t.add(v, plain(r.At.Local().Format(time.DateTime)), plain(dash(r.Actor)), plain(dash(src)), cell{text: shortHash(r.Hash), color: dim}, plain(dash(r.Reason)))
	}
	return t
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) policySchemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of policy documents",
		Long: `Print the JSON Schema that policy documents follow, for editors: save it
and point yaml-language-server at it with a first line such as
  # yaml-language-server: $schema=policy.schema.json`,
		Example: "  breakerctl policy schema > policy.schema.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.printJSON(policyfile.Schema())
		},
	}
}

func (a *app) policyDocsCommand() *cobra.Command {
	var live bool
	cmd := &cobra.Command{
		Use:   "docs FILE|DIR | docs --live",
		Short: "Describe every policy in plain words, as Markdown",
		Long: `Write Markdown that says, for every policy, what trips it, how long it stays
open, how it recovers, its retries, limits and fallbacks, with a state
diagram (Mermaid). From a file or directory, or with --live from the
server's live version (GET /v1/policies/docs).`,
		Example: "  breakerctl policy docs policies/ > POLICIES.md\n  breakerctl policy docs --live",
		Args:    liveArgs(&live, 0, 1, "docs --live takes no FILE", "docs takes FILE or DIR, or --live"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !live {
				doc, err := a.loadOrPrint(args[0])
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(policy.Markdown(doc))
				return err
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			md, err := c.callText(cmd.Context(), "/v1/policies/docs", "text/markdown")
			if err != nil {
				return err
			}
			if !bytes.HasSuffix(md, []byte("\n")) {
				md = append(md, '\n')
			}
			_, err = a.stdout.Write(md)
			return err
		},
	}
	cmd.Flags().BoolVar(&live, "live", false, "describe the server's live version")
	return cmd
}
