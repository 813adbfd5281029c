package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPlaygroundWorksOffline pins issue 18's "the GraphQL playground loads
// its scripts from a CDN and is blank offline": the page at the gateway's /
// references no other site, and each example operation it offers, posted
// the way its script posts it, gets data from the demo's gqlgen server
// (running in this process, with every service it calls).
func TestPlaygroundWorksOffline(t *testing.T) {
	addrs := startDemo(t, "-load=0", "-tour=false", "-report=0", "-traces=none",
		"-fault=payments:failure=0", "-fault=inventory:failure=0", "-fault=recommendations:failure=0")

	root := strings.TrimSuffix(addrs.GraphQL, "/graphql")
	resp, err := client.Get(root + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s/: %s, Content-Type %q", root, resp.Status, resp.Header.Get("Content-Type"))
	}
	// No URL of another site: not http(s)://host, nor //host.
	if u := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9-]+(\.[a-z0-9-]+)+`).Find(page); u != nil {
		t.Errorf("the page references %s, which it cannot load offline", u)
	}

	// What the page's script posts: JSON {query, variables} to endpoint.
	endpoint := regexp.MustCompile(`const endpoint = "([^"]+)";`).FindSubmatch(page)
	if endpoint == nil || !bytes.Contains(page, []byte("fetch(endpoint, request(")) ||
		!bytes.Contains(page, []byte(`headers: {"Content-Type": "application/json", "Accept": "application/json"}`)) ||
		!bytes.Contains(page, []byte("body: JSON.stringify({query: query, variables: variables})")) {
		t.Fatal("the page's script does not post as this test does; update the test with it")
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="examples">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no examples in the page")
	}
	var examples []struct {
		Name      string         `json:"name"`
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(m[1], &examples); err != nil {
		t.Fatalf("the page's examples: %v", err)
	}
	if len(examples) < 3 {
		t.Errorf("the page offers %d examples, want the catalogue, a product and a checkout", len(examples))
	}
	for _, ex := range examples {
		body, err := json.Marshal(map[string]any{"query": ex.Query, "variables": ex.Variables})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, root+string(endpoint[1]), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", ex.Name, err)
		}
		var out struct {
			Data   map[string]json.RawMessage `json:"data"`
			Errors []json.RawMessage          `json:"errors"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s, %v", ex.Name, resp.Status, err)
			continue
		}
		if len(out.Errors) > 0 || len(out.Data) == 0 {
			t.Errorf("%s: data %s, errors %s", ex.Name, out.Data, out.Errors)
			continue
		}
		for field, v := range out.Data {
			if string(v) == "null" || !bytes.Contains(v, []byte(`"id"`)) {
				t.Errorf("%s: %s = %s, want an object with an id", ex.Name, field, v)
			}
		}
	}
}

// startDemo runs the demo in this process on free ports, with args, until
// the test ends (when it checks that the demo stopped with status 0), and
// returns its addresses once it is ready.
func startDemo(t *testing.T, args ...string) Addresses {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	args = append([]string{"-api-port=0", "-graphql-port=0", "-grpc-port=0", "-fakes-port=0", "-ops-port=0", "-ready-file=" + ready}, args...)
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var log lockedBuffer
	say := func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	done := make(chan int, 1)
	go func() { done <- serve(ctx, stop, cfg, io.Discard, &log, say) }()
	t.Cleanup(func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("the demo stopped with status %d", code)
		}
		if t.Failed() {
			t.Logf("the demo's output:\n%s", log.String())
		}
	})
	var addrs Addresses
	waitFor(t, time.Minute, "the ready file", func() error {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("the demo stopped before it was ready, with status %d", code)
		default:
		}
		b, err := os.ReadFile(ready)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &addrs)
	})
	return addrs
}
