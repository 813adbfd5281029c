package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeShowsTheExample keeps the README's worked example true to
// example/payments: every interface line the README quotes is in
// payments.go.
func TestReadmeShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("example", "payments", "payments.go"))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(src), "\n") {
		lines[l] = true
	}
	block, ok := between(string(readme), "type PaymentClient interface {", "\n}\n")
	if !ok {
		t.Fatal("README.md quotes no PaymentClient interface")
	}
	for _, l := range strings.Split(block, "\n") {
		if strings.TrimSpace(l) != "" && !lines[l] {
			t.Errorf("README.md line %q is not in payments.go", l)
		}
	}
}

func between(s, start, end string) (string, bool) {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return "", false
	}
	in, _, ok := strings.Cut(after, end)
	return in, ok
}
