package examples_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// small are the small examples and lines each must print. Each prints
// more; these lines show that it did its job.
var small = map[string][]string{
	"quickstart": {
		">> payments.charge: closed -> open",
		`rejected fast by "payments.charge" (circuit_open)`,
		">> payments.charge: half-open -> closed",
		"call 17: ok",
	},
	"breaker": {
		"  >> closed -> open (failure rate 50% >= 50% over 4 calls)",
		"12:00:10 rejected: breaker: open",
		"  >> half-open -> closed (probe succeeded)",
		"state closed: 6 admitted, 2 failed, 1 rejected, 3 transitions",
	},
	"bulkhead": {
		"call 3: queued",
		"call 4: bulkhead: full (rejected: true)",
		"call 3: running",
		"in use 0 of 2; 1 waited, 1 rejected",
	},
	"ratelimit": {
		"t=0s     limited, retry after 200ms",
		"t=200ms  allowed",
		"alice allowed: false",
		"alice may come back after 30s",
	},
	"retry": {
		"the schedule: 10ms 20ms 40ms",
		"  result: <nil> after 3 calls",
		"  attempt 2 after 50ms (previous: upstream busy)",
		"  result: invalid request after 1 call",
	},
	"fallback": {
		"34900 cents (cached)",
		"9900 cents (list price)",
		`breaker: open; fallback "cache": cache miss (still the cause: true)`,
		"error: bad request (still the cause: true)",
	},
	"httpserver": {
		"GET /quote/p1 200  42.50",
		"GET /quote/p1 500  database unavailable",
		`GET /quote/p1 503 1 {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The service cannot handle the request for now: try again later.","reason":"circuit_open","retryAfter":1}`,
		"GET /healthz  200  ok",
		"route guard: metrics-only, 4 failed, 0 rejected",
	},
	"httpclient": {
		"request 3: 503 Service Unavailable",
		`request 4: rejected by "inventory-api" (circuit_open), not sent`,
		"the upstream saw 3 requests; the breaker is open",
	},
	"grpc": {
		"call 3: Unavailable: database down (rejected by the client's guard: false)",
		"(rejected by the client's guard: true)",
		`the server saw 3 calls; guard "/storefront.v1.Inventory/GetStock" is open`,
	},
	"graphql": {
		`"message":"quotes: connection refused"`,
		`"extensions":{"code":"CIRCUIT_OPEN","retryAfter":`,
		`"cachedQuote":{"price":41.5,"stale":true}`,
	},
}

// TestSmallExamples builds every small example, runs it, and checks that it
// exits by itself with status 0 and prints its lines.
func TestSmallExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the examples")
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race") // reuses the packages the test compiled
	}
	for name := range small {
		args = append(args, "./"+name)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for name, want := range small {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(dir, name))
			cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0") // a race still fails the exit status
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, out)
			}
			for _, line := range want {
				if !strings.Contains(string(out), line) {
					t.Errorf("%s did not print %q; it printed:\n%s", name, line, out)
				}
			}
		})
	}
}

// TestSmallExamplesAreSmall holds the small examples under 80 lines each.
func TestSmallExamplesAreSmall(t *testing.T) {
	for name := range small {
		if name == "quickstart" {
			continue // the README's walk-through, not one of the small examples
		}
		f, err := os.Open(filepath.Join(name, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for s := bufio.NewScanner(f); s.Scan(); {
			n++
		}
		f.Close()
		if n >= 80 {
			t.Errorf("%s/main.go has %d lines; keep it under 80", name, n)
		}
	}
}
