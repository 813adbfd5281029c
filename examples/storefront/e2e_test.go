package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
)

// TestEndToEnd builds the demo and breakerctl, starts the demo on free
// ports, puts payments (and inventory) through an outage and back, and
// checks through the public surfaces only (the admin API, /metrics, GraphQL
// answers, `breakerctl status --json`, the terminal, the traces file) that
// the payments breaker opens, the checkout's fallback answers (and the
// stock's), and the breakers close after recovery; then that Ctrl-C stops
// the demo cleanly, with no goroutine left behind (which the demo checks and
// reports itself). The traces go to their default file, in the temporary
// directory, and not to the terminal (issue 18).
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	start := time.Now()
	dir := t.TempDir()
	var bin string
	var binErr error
	ctl := filepath.Join(dir, "breakerctl")
	var builds sync.WaitGroup
	builds.Go(func() { bin, binErr = demoBinary() })
	builds.Go(func() { goBuild(t, filepath.Join("..", "..", "cmd", "breakerctl"), ctl) })
	builds.Wait()
	if binErr != nil {
		t.Error(binErr)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%v: built the demo and breakerctl", time.Since(start).Round(time.Millisecond))

	ready := filepath.Join(dir, "ready.json")
	var stdout, stderr lockedBuffer
	demo := exec.Command(bin,
		"-api-port=0", "-graphql-port=0", "-grpc-port=0", "-fakes-port=0", "-ops-port=0",
		"-open-duration=500ms", "-load=20", "-tour=false", "-report=0",
		"-fault=payments:failure=0", "-fault=inventory:failure=0", "-ready-file="+ready)
	demo.Stdout, demo.Stderr = &stdout, &stderr
	demo.Env = demoEnv(dir)
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{})
	go func() { exitErr = demo.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = demo.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("demo's stderr:\n%s", stderr.String())
		}
	})

	var addrs Addresses
	waitFor(t, 60*time.Second, "the ready file", func() error {
		select {
		case <-exited:
			t.Fatalf("the demo exited before it was ready: %v", exitErr)
		default:
		}
		b, err := os.ReadFile(ready)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &addrs)
	})
	env := &e2e{t: t, addrs: addrs, ctl: ctl}
	t.Logf("%v: the demo is ready", time.Since(start).Round(time.Millisecond))

	// Healthy: checkouts are paid, the breaker is closed.
	if o := env.checkout(); o.Status != "PAID" {
		t.Fatalf("checkout before the outage = %+v, want PAID", o)
	}
	if s := env.ctlState("payments"); s != "closed" {
		t.Fatalf("breakerctl: payments is %s before the outage, want closed", s)
	}

	// Outage: the breakers open and the fallbacks answer: the API's for
	// checkouts, the @breaker directive's for the stock of products.
	env.setFault("payments", `{"outage": true}`)
	env.setFault("inventory", `{"outage": true}`)
	waitFor(t, 30*time.Second, "the admin API to show payments open", func() error {
		return env.adminState("payments", "open")
	})
	t.Logf("%v: payments is open", time.Since(start).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "/metrics to show payments open", func() error {
		return env.metric(`breakerbox_circuit_breaker_status`, `state="open"`, "1")
	})
	waitFor(t, 10*time.Second, "breakerctl to show payments open", func() error {
		if s := env.ctlState("payments"); s != "open" {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	waitFor(t, 10*time.Second, "a checkout answered by the fallback for an open circuit", func() error {
		o := env.checkout()
		if o.Status != "PAYMENT_PENDING" || o.Note == nil || !strings.Contains(*o.Note, "circuit_open") {
			return fmt.Errorf("checkout = %+v", o)
		}
		return nil
	})
	waitFor(t, 10*time.Second, "readiness to fail (payments is critical)", func() error {
		return env.status(addrs.Admin+"/ready", http.StatusServiceUnavailable)
	})
	if err := env.metric(`breakerbox_guard_rejections_total`, `reason="circuit_open"`, ""); err != nil {
		t.Error(err)
	}
	waitFor(t, 10*time.Second, "the admin API to show inventory open", func() error {
		return env.adminState("inventory", "open")
	})
	if s := env.stockStatus(); s != "UNKNOWN" {
		t.Errorf("stock while inventory is down = %s, want UNKNOWN (the fallback)", s)
	}

	// Recovery: after its open time the breaker probes and closes.
	t.Logf("%v: the fallback answered", time.Since(start).Round(time.Millisecond))
	env.setFault("payments", `{"outage": false}`)
	env.setFault("inventory", `{"outage": false}`)
	waitFor(t, 30*time.Second, "the admin API to show payments and inventory closed", func() error {
		return errors.Join(env.adminState("payments", "closed"), env.adminState("inventory", "closed"))
	})
	t.Logf("%v: payments is closed again", time.Since(start).Round(time.Millisecond))
	if o := env.checkout(); o.Status != "PAID" {
		t.Errorf("checkout after recovery = %+v, want PAID", o)
	}
	if s := env.ctlState("payments"); s != "closed" {
		t.Errorf("breakerctl: payments is %s after recovery, want closed", s)
	}
	if s := env.stockStatus(); s != "IN_STOCK" {
		t.Errorf("stock after recovery = %s, want IN_STOCK", s)
	}
	if err := env.status(addrs.Admin+"/ready", http.StatusOK); err != nil {
		t.Error(err)
	}

	// Ctrl-C: a clean stop, reported by the demo itself.
	if err := demo.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Errorf("the demo exited with %v after SIGINT, want status 0", exitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30s of SIGINT")
	}
	t.Logf("%v: the demo stopped", time.Since(start).Round(time.Millisecond))
	if out := stderr.String(); !strings.Contains(out, "shutdown: clean, no goroutines left") {
		t.Errorf("the demo did not report a clean shutdown:\n%s", out)
	}

	// The terminal has a line for each change of state, and no spans.
	if out := stderr.String(); !strings.Contains(out, "payments closed → open (failure rate ") ||
		!strings.Contains(out, "payments half-open → closed (") {
		t.Errorf("the demo did not print the payments breaker's changes of state:\n%s", out)
	}
	if out := stdout.String() + stderr.String(); strings.Contains(out, `"SpanContext"`) {
		t.Errorf("spans on the terminal:\n%.2000s", out)
	}
	// The traces file carries the rejections (otelbreaker's attributes).
	traces, err := os.ReadFile(filepath.Join(dir, "breakerbox-storefront-traces.jsonl"))
	if err != nil {
		t.Fatalf("the default traces file: %v", err)
	}
	if !bytes.Contains(traces, []byte(`"breakerbox.guard.name"`)) || !bytes.Contains(traces, []byte("circuit_open")) {
		t.Errorf("no span with a breakerbox rejection in the traces file (%d bytes)", len(traces))
	}
}

// e2e talks to a running demo.
type e2e struct {
	t     *testing.T
	addrs Addresses
	ctl   string
}

var client = &http.Client{Timeout: 10 * time.Second}

// order is the part of a checkout's answer the test reads.
type order struct {
	ID     string  `json:"id"`
	Status string  `json:"status"`
	Note   *string `json:"note"`
}

// checkout orders through the GraphQL gateway.
func (e *e2e) checkout() order {
	e.t.Helper()
	resp, err := postGraphQL(context.Background(), client, e.addrs.GraphQL, mutCheckout, map[string]any{"id": "p1"})
	if err != nil {
		e.t.Fatalf("checkout: %v", err)
	}
	if len(resp.Errors) > 0 {
		e.t.Fatalf("checkout: GraphQL errors %+v", resp.Errors)
	}
	var data struct {
		Checkout order `json:"checkout"`
	}
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		e.t.Fatalf("checkout: %v in %s", err, resp.Data)
	}
	return data.Checkout
}

// stockStatus returns the stock status of product p1 through the GraphQL
// gateway.
func (e *e2e) stockStatus() string {
	e.t.Helper()
	resp, err := postGraphQL(context.Background(), client, e.addrs.GraphQL, queryProduct, map[string]any{"id": "p1"})
	if err != nil {
		e.t.Fatalf("product: %v", err)
	}
	if len(resp.Errors) > 0 {
		e.t.Fatalf("product: GraphQL errors %+v", resp.Errors)
	}
	var data struct {
		Product struct {
			Stock struct{ Status string } `json:"stock"`
		} `json:"product"`
	}
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		e.t.Fatalf("product: %v in %s", err, resp.Data)
	}
	return data.Product.Stock.Status
}

// setFault changes a fake through the control endpoint.
func (e *e2e) setFault(name, patch string) {
	e.t.Helper()
	resp, err := client.Post(e.addrs.Ops+"/control/faults/"+name, "application/json", strings.NewReader(patch))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("POST /control/faults/%s %s: %s %s", name, patch, resp.Status, b)
	}
}

// adminState checks a guard's state in the admin API.
func (e *e2e) adminState(name, want string) error {
	resp, err := client.Get(e.addrs.Admin + "/v1/guards/" + name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var g admin.GuardStatus
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		return err
	}
	if g.State.String() != want {
		return fmt.Errorf("state %s (counters %+v)", g.State, g.Counters)
	}
	return nil
}

// metric checks that /metrics has a series of name for guard payments,
// with label, and the value want ("" for any positive value).
func (e *e2e) metric(name, label, want string) error {
	resp, err := client.Get(e.addrs.Metrics)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, `guard="payments"`) || !strings.Contains(line, label) {
			continue
		}
		v := strings.TrimSpace(line[strings.LastIndexByte(line, ' ')+1:])
		if want == "" && v != "0" || v == want {
			return nil
		}
		return fmt.Errorf("%s", strings.TrimSpace(line))
	}
	return fmt.Errorf("no series %s{guard=\"payments\",%s}", name, label)
}

// status checks the status code of a GET.
func (e *e2e) status(url string, want int) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %s, want %d", url, resp.Status, want)
	}
	return nil
}

// ctlState returns a guard's state as `breakerctl status --json` shows it.
func (e *e2e) ctlState(name string) string {
	e.t.Helper()
	cmd := exec.Command(e.ctl, "status", "--json", "--addr", e.addrs.Admin, "--token", e.addrs.Token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("breakerctl status --json: %v: %s", err, stderr.Bytes())
	}
	var list admin.GuardList
	if err := json.Unmarshal(out, &list); err != nil {
		e.t.Fatalf("breakerctl status --json: %v in %s", err, out)
	}
	for _, g := range list.Guards {
		if g.Name == name {
			return g.State.String()
		}
	}
	e.t.Fatalf("breakerctl status --json: no guard %q", name)
	return ""
}

// waitFor polls check every 100ms until it succeeds, failing the test with
// the last error after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// demoEnv is the environment the demo runs in from tests: the test's,
// without settings that would send the traces elsewhere or set the admin
// token, with its temporary directory (where the traces go by default) in
// dir and a race still failing the exit status. When the test runs with the
// race detector, so do the go commands the demo is built with (which then
// reuse the test's compiled packages).
func demoEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "BREAKERBOX_") &&
			!strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "GOFLAGS=") {
			env = append(env, kv)
		}
	}
	env = append(env, "TMPDIR="+dir, "GORACE=atexit_sleep_ms=0")
	if raceEnabled {
		env = append(env, "GOFLAGS=-race")
	}
	return env
}

// demoBuild is the demo built once for the tests that run it.
var demoBuild struct {
	once sync.Once
	dir  string
	err  error
}

// demoBinary returns the path of the demo's binary, built on first use (with
// the race detector when the test has it). TestMain removes it.
func demoBinary() (string, error) {
	demoBuild.once.Do(func() {
		demoBuild.dir, demoBuild.err = os.MkdirTemp("", "storefront-test-")
		if demoBuild.err != nil {
			return
		}
		args := []string{"build", "-o", filepath.Join(demoBuild.dir, "storefront")}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		if b, err := cmd.CombinedOutput(); err != nil {
			demoBuild.err = fmt.Errorf("go build: %v\n%s", err, b)
		}
	})
	return filepath.Join(demoBuild.dir, "storefront"), demoBuild.err
}

// goBuild builds the main package in dir into out, with the race detector
// when the test has it (which reuses the test's compiled packages).
func goBuild(t *testing.T, dir, out string) {
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go build in %s: %v\n%s", dir, err, b)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
