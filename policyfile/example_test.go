package policyfile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policyfile"
)

func ExampleParse() {
	doc, err := policyfile.Parse("payments.yaml", []byte(`
policies:
  - name: payments
    match: ["payments.*"]
    breaker: {failureRate: 25, openDuration: 10s}
    retry: {maxAttempts: 2}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := doc.Policies[0]
	fmt.Println(p.Name, p.Match, p.Breaker.FailureRate, p.Breaker.OpenDuration, p.Retry.MaxAttempts)
	// Output: payments [payments.*] 25 10s 2
}

func ExampleParse_problems() {
	_, err := policyfile.Parse("payments.yaml", []byte(`
policies:
  - name: payments
    breaker:
      failureRat: 25
      openDuration: 10x
  - name: payments
    extends: preset:nope
`))
	var de *core.DocumentError
	if errors.As(err, &de) {
		for _, p := range de.Problems {
			fmt.Printf("%s:%d:%d: %s: %s\n", p.File, p.Line, p.Column, p.Path, p.Message)
		}
	}
	// Output:
	// payments.yaml:5:7: policies[0].breaker.failureRat: unknown field "failureRat"; did you mean "failureRate"?
	// payments.yaml:6:21: policies[0].breaker.openDuration: "10x" is not a duration such as "30s" or "1m30s" (no sign; units ns, us, ms, s, m, h)
}

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "policies")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "payments.yaml"), []byte("policies: [{name: payments, timeout: 2s}]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "search.json"), []byte(`{"policies": [{"name": "search", "extends": "payments"}]}`), 0o644)

	doc, err := policyfile.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range doc.Policies {
		fmt.Printf("%s extends %q\n", p.Name, p.Extends)
	}
	// Output:
	// payments extends ""
	// search extends "payments"
}

func ExampleSchema() {
	var s struct {
		Schema string `json:"$schema"`
		Defs   map[string]struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(policyfile.Schema(), &s); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Schema)
	fmt.Println(s.Defs["BreakerPolicy"].Properties["window"].Enum)
	// Output:
	// https://json-schema.org/draft/2020-12/schema
	// [count time]
}

func ExampleWatch() {
	dir, _ := os.MkdirTemp("", "policies")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policies.yaml")
	os.WriteFile(path, []byte("policies: [{name: payments}]\n"), 0o644)

	reg, _ := core.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	applied := make(chan uint64)
	done := make(chan error)
	go func() {
		done <- policyfile.Watch(ctx, path, func(doc core.Document, err error) {
			if err == nil {
				var res core.ApplyResult
				if res, err = reg.Apply(doc); err == nil {
					applied <- res.Version
					return
				}
			}
			fmt.Println("not reloaded, the last good policies stay live:", err)
		})
	}()
	fmt.Println("version", <-applied) // the initial load

	// An atomic save: write a new file, rename it over the old one.
	os.WriteFile(path+".tmp", []byte("policies: [{name: payments, timeout: 1s}]\n"), 0o644)
	os.Rename(path+".tmp", path)
	fmt.Println("version", <-applied)

	cancel()
	fmt.Println(<-done)
	// Output:
	// version 1
	// version 2
	// <nil>
}
