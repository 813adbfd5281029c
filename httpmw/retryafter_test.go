package httpmw

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNotifyDoesNotImportHTTPMW pins issue 17: notify read Retry-After
// through httpmw.ParseRetryAfter, so every user of notifications linked the
// HTTP middleware. The parser lives in core/retry; httpmw.ParseRetryAfter
// only forwards to it for existing callers.
func TestNotifyDoesNotImportHTTPMW(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../notify").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasSuffix(pkg, "/breakerbox/httpmw") {
			t.Errorf("notify depends on %s", pkg)
		}
	}
}
