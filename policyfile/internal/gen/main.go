// Command gen writes policyfile/schema.json, the JSON Schema of a policy
// document, from core's Go types and doc comments. Run it with go generate
// in policyfile/ (it reads ../core and writes schema.json there).
package main

import (
	"fmt"
	"os"

	"github.com/breakerbox/breakerbox/policyfile/internal/schemagen"
)

func main() {
	b, err := schemagen.Generate("../core")
	if err == nil {
		err = os.WriteFile("schema.json", b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
