package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/replay"
)

// TestReplayFollowsStoredVersions: breakerctl replay --versions follows the
// policy versions a recording names, reading them from a policy.FileStore;
// --pin-version runs one of them throughout.
func TestReplayFollowsStoredVersions(t *testing.T) {
	dir := t.TempDir()
	storePath := filepath.Join(dir, "history.jsonl")
	store, err := policy.OpenFileStore(storePath)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, k := range []int{5, 2} {
		doc := core.Document{Policies: []core.Policy{{Name: "payments", Match: []string{"*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: k, OpenDuration: core.Duration(30 * time.Second)}}}}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(context.Background(), policy.Record{Hash: doc.Hash(), Document: b, Source: "test"}); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, doc.Hash())
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	var rec strings.Builder
	rec.WriteString(`{"kind":"header","format":1,"sampleEvery":1}` + "\n")
	rec.WriteString(`{"kind":"policy","at":"2026-03-01T12:00:00Z","version":1,"hash":"` + hashes[0] + `"}` + "\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&rec, `{"kind":"call","at":"2026-03-01T12:00:0%dZ","guard":"payments","result":"failure","latencyNs":1000000}`+"\n", i)
	}
	rec.WriteString(`{"kind":"call","at":"2026-03-01T12:00:04Z","guard":"payments","result":"success","latencyNs":1000000}` + "\n")
	rec.WriteString(`{"kind":"policy","at":"2026-03-01T12:00:10Z","version":2,"hash":"` + hashes[1] + `"}` + "\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&rec, `{"kind":"call","at":"2026-03-01T12:00:1%dZ","guard":"payments","result":"failure","latencyNs":1000000}`+"\n", i)
	}
	recPath := filepath.Join(dir, "run.jsonl")
	writeFiles(t, dir, map[string]string{"run.jsonl": rec.String(), "p.yaml": "policies:\n  - name: p\n"})

	r := policyCtl(nil, "replay", recPath, "--versions", storePath)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "replay --versions", r.stdout, "version 1, 12:00:00.000 to 12:00:10.000, replayed under version 1:", "version 2, 12:00:10.000 to 12:00:13.000, replayed under version 2:", "0 -> 1")

	// A directory of documents named by version does as well.
	versDir := filepath.Join(dir, "versions")
	writeFiles(t, versDir, map[string]string{
		"1.yaml":  "policies:\n  - name: payments\n    match: [\"*\"]\n    breaker:\n      consecutiveFailures: 5\n      openDuration: 30s\n",
		"v2.json": `{"policies": [{"name": "payments", "match": ["*"], "breaker": {"consecutiveFailures": 2, "openDuration": "30s"}}]}`,
	})
	r = policyCtl(nil, "replay", recPath, "--versions", versDir)
	if r.code != 0 {
		t.Fatalf("--versions DIR: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "replay --versions DIR", r.stdout, "replayed under version 1:", "replayed under version 2:", "0 -> 1")

	r = policyCtl(nil, "replay", recPath, "--versions", storePath, "--pin-version", "1", "--json")
	if r.code != 0 {
		t.Fatalf("--pin-version: exit %d: %s", r.code, r.stderr)
	}
	var rep replay.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FollowsVersions || len(rep.Segments) != 2 || rep.Guards[0].Replayed.Trips != 0 {
		t.Errorf("pinned to version 1: follows %v, segments %+v, replayed %+v; want no trip", rep.FollowsVersions, rep.Segments, rep.Guards[0].Replayed)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", recPath}, exitUsage, "replay needs --policy FILE|DIR or --versions STORE"},
		{[]string{"replay", recPath, "--versions", storePath, "--policy", filepath.Join(dir, "p.yaml")}, exitUsage, "not both"},
		{[]string{"replay", recPath, "--pin-version", "1", "--policy", filepath.Join(dir, "p.yaml")}, exitUsage, "--pin-version needs --versions"},
		{[]string{"replay", recPath, "--versions", filepath.Join(dir, "none.jsonl")}, exitUsage, "--versions"},
		{[]string{"replay", recPath, "--versions", storePath, "--pin-version", "9"}, exitRefused, "--pin-version 9"},
	} {
		r := policyCtl(nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none.jsonl")); err == nil {
		t.Error("replay --versions created the missing store file")
	}
}
