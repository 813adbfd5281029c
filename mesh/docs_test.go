package mesh

import (
	"os"
	"strings"
	"testing"
)

// docs/mesh.md names every annotation the Linkerd export writes, every
// format and every kind of loss, so that the page stays true to the code.
func TestDocsNameWhatTheExportWrites(t *testing.T) {
	data, err := os.ReadFile("../docs/mesh.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	names := []string{
		linkerdFailureAccrual, linkerdMaxFailures, linkerdMinPenalty, linkerdMaxPenalty, linkerdJitterRatio,
		linkerdRetryHTTP, linkerdRetryLimit, linkerdRetryTimeout, linkerdTimeoutRequest,
		retryOnHTTP, PolicyAnnotation,
		"**" + string(Lost) + "**", "**" + string(Approximated) + "**", "**" + string(Warning) + "**",
	}
	for _, f := range Formats {
		names = append(names, "`"+string(f)+"`")
	}
	for _, n := range names {
		if !strings.Contains(doc, n) {
			t.Errorf("docs/mesh.md does not mention %s", n)
		}
	}
}
