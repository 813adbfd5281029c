package unguarded

import (
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"
)

// TestFindings checks the true positives, the true negatives, the
// suppressions and, against the .golden files, the suggested fixes.
func TestFindings(t *testing.T) {
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), newAnalyzer(), "a")
}

// TestFixAddsImports checks that a fix imports the package it uses and
// passes the registry in scope.
func TestFixAddsImports(t *testing.T) {
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), newAnalyzer(), "imports")
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), newAnalyzer(), "noimports")
}

// TestAllowListAndGuards checks -allow (called functions, values,
// enclosing functions and methods) and -guards.
func TestAllowListAndGuards(t *testing.T) {
	a := newAnalyzer()
	for flag, v := range map[string]string{
		"allow":  "net/http.Get, database/sql.DB.Exec,net/http.DefaultClient",
		"guards": "allow.Retry",
	} {
		if err := a.Flags.Set(flag, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flags.Set("allow", "allow.migrate,allow.runner.Run"); err != nil { // repeated: accumulates
		t.Fatal(err)
	}
	analysistest.Run(t, analysistest.TestData(), a, "allow")
}

// TestListFlagRefusesBadEntries checks that a malformed entry is refused
// with an error naming it.
func TestListFlagRefusesBadEntries(t *testing.T) {
	for _, bad := range []string{"nodot", ".Get", "net/http."} {
		var l listFlag
		err := l.Set("net/http.Get," + bad)
		if err == nil {
			t.Errorf("Set(%q): no error", bad)
			continue
		}
		if want := `"` + bad + `"`; !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%q) = %v, want the entry named", bad, err)
		}
	}
}

// TestListFlagPackageWildcard checks that importpath.* names the package's
// functions and methods but not those of its subpackages.
func TestListFlagPackageWildcard(t *testing.T) {
	l := listFlag{"example.com/app/migrate.*"}
	for key, want := range map[string]bool{
		"example.com/app/migrate.Run":      true,
		"example.com/app/migrate.Tool.Run": true,
		"example.com/app/migrate/sub.Run":  false,
		"example.com/app/migratex.Run":     false,
	} {
		if got := l.matches(key); got != want {
			t.Errorf("matches(%q) = %v, want %v", key, got, want)
		}
	}
}
