package breakerbox_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRootModuleImportsOnlyStandardLibrary fails when any package of the
// root module depends on a package outside the standard library (tests
// included): heavy dependencies belong in their own modules.
func TestRootModuleImportsOnlyStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}|{{with .Module}}{{.Path}}{{end}}{{end}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/breakerbox/breakerbox"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, mod, _ := strings.Cut(line, "|")
		if mod == self {
			continue
		}
		t.Errorf("the root module depends on %s (module %q); only the standard library is allowed", pkg, mod)
	}
}
