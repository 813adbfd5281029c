package policy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

// A Manager keeps every accepted document as a version: apply, refuse a
// bad one (the last good one stays live), roll back, and find it all again
// after a restart.
func ExampleManager() {
	dir, _ := os.MkdirTemp("", "policies")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policies.jsonl")
	ctx := context.Background()

	store, err := policy.OpenFileStore(path)
	if err != nil {
		log.Fatal(err)
	}
	reg, _ := core.NewRegistry()
	m, err := policy.NewManager(ctx, reg, store)
	if err != nil {
		log.Fatal(err)
	}

	doc := core.Document{Policies: []core.Policy{
		{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 40}},
	}}
	res, err := m.Apply(ctx, doc, policy.Meta{Source: "deploy", Actor: "alice", Reason: "first policy"})
	fmt.Println("applied version", res.Record.Version, "added", res.Added, err)

	doc.Policies[0].Breaker.FailureRate = 140 // not a percentage
	_, err = m.Apply(ctx, doc, policy.Meta{Actor: "alice"})
	var refused *core.DocumentError
	if errors.As(err, &refused) {
		cur, _ := m.Current()
		fmt.Println("refused with", len(refused.Problems), "problem; live version still", cur.Version)
	}

	doc.Policies[0].Breaker.FailureRate = 25
	m.Apply(ctx, doc, policy.Meta{Actor: "alice", Reason: "trip earlier"})
	res, _ = m.Rollback(ctx, 1, policy.Meta{Actor: "bob", Reason: "25% trips on every deploy"})
	fmt.Println("rollback: version", res.Record.Version, "re-applies", res.Record.RollbackOf, "changed", res.Changed)
	store.Close()

	// After a restart: the same store, a new registry and Manager.
	store, _ = policy.OpenFileStore(path)
	defer store.Close()
	reg, _ = core.NewRegistry()
	m, _ = policy.NewManager(ctx, reg, store)
	live, _ := reg.PolicyVersion()
	hist, _ := m.History(ctx, 0)
	fmt.Println("live after restart:", live)
	for _, r := range hist {
		fmt.Println(r.Version, r.Actor, r.Reason)
	}
	// Output:
	// applied version 1 added [payments] <nil>
	// refused with 1 problem; live version still 1
	// rollback: version 3 re-applies 1 changed [payments]
	// live after restart: 3
	// 3 bob 25% trips on every deploy
	// 2 alice trip earlier
	// 1 alice first policy
}

// Markdown describes a document in plain words, with a state diagram per
// policy.
func ExampleMarkdown() {
	doc := core.Document{Policies: []core.Policy{{
		Name:    "payments",
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5},
	}}}
	md := policy.Markdown(doc)
	for _, line := range bytes.Split(md, []byte("\n")) {
		if bytes.Contains(line, []byte("in a row")) {
			fmt.Printf("%s\n", line)
		}
	}
	// Output:
	// - It opens after 5 failures in a row, however long they take.
	//     Closed --> Open: 5 failures in a row
}
