package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Issue 17, item 5: breakerctl imported package admin for the API's JSON
// types, and with it the whole server (the dashboard's embedded files, the
// audit sinks, the history). It speaks the API through admin/wire, and no
// package of the module (the test server under testdata apart) depends on
// the server.
func TestCLIDoesNotDependOnTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	var wire bool
	for _, d := range deps {
		switch d {
		case "github.com/breakerbox/breakerbox/admin":
			t.Errorf("a package of breakerctl depends on %s, the server", d)
		case "github.com/breakerbox/breakerbox/admin/wire":
			wire = true
		}
	}
	if !wire {
		t.Error("breakerctl does not import admin/wire; what does it decode the API's answers into?")
	}
}
