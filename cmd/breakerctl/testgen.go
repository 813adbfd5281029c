package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/testgen"
)

func (a *app) testgenCommand() *cobra.Command {
	var policyPath, pkg, out string
	var guards []string
	var version uint64
	cmd := &cobra.Command{
		Use:   "testgen --policy FILE|DIR [--package NAME] [--out FILE|DIR] [--guard NAME]...",
		Short: "Write Go tests that pin what a policy document makes its guards do",
		Long: `Write a Go test file that pins, for each policy of a document, what its guard
does: after how many failures it trips (consecutive failures, failure rate
and minimum calls, slow calls), how long it stays open, how many probes it
admits and how many successes close it, how a failed or lost probe reopens
it, how its ramp admits traffic, how many attempts a failing call gets, the
bounds of the retry delays, what the retry budget allows, the rate limit's
burst and the bulkhead's limit.

The tests embed the document (as JSON) and build a real registry from it,
driving it on explicit time, and retries through Do in a testing/synctest
bubble. They import only breakerbox's root module and the standard library.
They pass on the document they came from; when an edit of the document
changes a behaviour, the test named after that behaviour fails.

For a policy with a wildcard pattern the tests use a sample guard name, and
say so. What a policy sets that the tests cannot pin (learned thresholds,
adaptive limits, hedging, ...) is listed in a comment.

Without --out the file goes to standard output; --out DIR writes
DIR/<name>_policy_test.go.`,
		Example: "  breakerctl testgen --policy checkout.yaml --package checkout --out internal/checkout/\n  breakerctl testgen --policy policies/ --guard payments-stripe",
		Args:    exactArgs(0, "no arguments (the document is --policy)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
				return usageErrorf("testgen needs --policy FILE|DIR")
			}
			doc, err := loadPolicies(policyPath)
			if de := (*core.DocumentError)(nil); errors.As(err, &de) {
				return problemsError(a.stderr, policyPath, de.Problems)
			} else if err != nil {
				return err
			}
			source := filepath.Base(filepath.Clean(policyPath))
			src, err := testgen.Generate(doc, testgen.Options{Package: pkg, Source: source, Version: version, Guards: guards})
			if err != nil {
				return refused(err)
			}
			if out == "" {
				_, err = a.stdout.Write(src)
				return err
			}
			path := out
			if st, err := os.Stat(out); (err == nil && st.IsDir()) || strings.HasSuffix(out, string(os.PathSeparator)) || strings.HasSuffix(out, "/") {
				name := strings.TrimSuffix(source, filepath.Ext(source))
				path = filepath.Join(out, strings.Map(fileRune, name)+"_policy_test.go")
			}
			if !strings.HasSuffix(path, "_test.go") {
				return usageErrorf("--out %s: a generated test file's name must end in _test.go", path)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return refused(err)
			}
			if err := os.WriteFile(path, src, 0o644); err != nil {
				return refused(err)
			}
			_, err = fmt.Fprintf(a.stderr, "wrote %s\n", path)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyPath, "policy", "", "policy document: a YAML or JSON file, or a directory")
	f.StringVar(&pkg, "package", "", `package name of the generated file (default "policytest")`)
	f.StringVar(&out, "out", "", "write to this file, or into this directory (default standard output)")
	f.StringArrayVar(&guards, "guard", nil, "only this policy or guard name (repeatable)")
	f.Uint64Var(&version, "policy-version", 0, "the document's policy version, for the header comment")
	return cmd
}

// fileRune keeps letters, digits, '-' and '_' of a file name and turns the
// rest into '_'.
func fileRune(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		return r
	}
	return '_'
}
