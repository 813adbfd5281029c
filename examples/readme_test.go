package examples_test

import (
	"bufio"
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/examples/graphql/graph"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/grpcmw"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// The Go blocks of the root README.md are written here, line for line,
// inside functions that give them what they name; TestReadmeSnippets
// checks that each block still stands here and runs these functions, so
// the README cannot show code that does not compile or work.

// Receipt, order and stripe stand in for the README's payment provider.
type Receipt struct{ ID string }

type paymentProvider struct{ calls int }

func (p *paymentProvider) Charge(ctx context.Context, order string) (Receipt, error) {
	p.calls++
	return Receipt{ID: "rcpt-" + order}, nil
}

// readmeQuickstart holds README block 1 ("In your own code").
func readmeQuickstart(ctx context.Context, stripe *paymentProvider, order string) (Receipt, *core.Registry, error) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "payments",
		Match:    []string{"payments.*"}, // guards whose names match use this policy
		Tags:     []string{"stripe"},     // operate on groups: reg.ForceOpen(core.Tag("stripe"), ...)
		Breaker:  &core.BreakerPolicy{FailureRate: 50, MinCalls: 20, OpenDuration: core.Duration(30 * time.Second)},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 10},
		Retry:    &core.RetryPolicy{MaxAttempts: 3, Budget: &core.RetryBudgetPolicy{Ratio: 0.2}},
		Timeout:  core.Duration(2 * time.Second),
	}))
	if err != nil {
		log.Fatal(err) // an invalid policy is refused with the field and the value named
	}

	receipt, err := core.Do(ctx, reg.MustGuard("payments.charge"), func(ctx context.Context) (Receipt, error) {
		return stripe.Charge(ctx, order)
	})
	var rejected *core.RejectedError
	if errors.As(err, &rejected) { // also errors.Is(err, core.ErrRejected)
		// refused without running; rejected.RetryAfter() says when to try again
	}
	return receipt, reg, err
}

// readmeAdapters holds README block 2 ("One line per adapter"). addr is
// not a valid address, so ListenAndServe returns at once.
func readmeAdapters(reg *core.Registry, addr string) (*http.ServeMux, *http.Client, error) {
	mux := http.NewServeMux()
	var cfg graph.Config
	http.ListenAndServe(addr, httpmw.Middleware(reg)(mux))                                           // HTTP server: a guard per route pattern
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(reg))}            // HTTP client: a guard per host
	grpc.NewServer(grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg)))                   // gRPC server (and client, and streams)
	cfg.Directives.Breaker = bbgraphql.Directive(reg)                                                // gqlgen: directive @breaker on FIELD_DEFINITION
	inst, err := otelbreaker.Instrument(reg)                                                         // OpenTelemetry metrics, span attributes, events
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(reg, admin.WithTokensFromEnv()))) // API + dashboard
	if err == nil {
		err = inst.Shutdown(context.Background())
	}
	return mux, client, err
}

func TestReadmeSnippets(t *testing.T) {
	blocks := goBlocks(t, "../README.md")
	if len(blocks) != 2 {
		t.Fatalf("README.md has %d Go blocks; readme_test.go holds 2: add the new one here", len(blocks))
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		if !containsLines(string(src), b) {
			t.Errorf("README.md Go block %d is not in readme_test.go as written:\n%s", i+1, strings.Join(b, "\n"))
		}
	}

	stripe := &paymentProvider{}
	receipt, reg, err := readmeQuickstart(context.Background(), stripe, "o-1")
	if err != nil || receipt.ID != "rcpt-o-1" || stripe.calls != 1 {
		t.Fatalf("quickstart: receipt %+v, err %v, %d charges", receipt, err, stripe.calls)
	}
	t.Setenv("BREAKERBOX_ADMIN_TOKENS", "")
	mux, client, err := readmeAdapters(reg, "127.0.0.1:-1")
	if err != nil || mux == nil || client == nil {
		t.Fatalf("adapters: %v", err)
	}
}

// goBlocks returns the lines of each ```go block of a Markdown file.
func goBlocks(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	var cur []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```go"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			out = append(out, cur)
		case in:
			cur = append(cur, line)
		}
	}
	return out
}

// containsLines reports whether the lines of block stand in src in order
// and next to each other (blank lines aside), whatever their indentation
// and alignment (gofmt aligns comments by their neighbours).
func containsLines(src string, block []string) bool {
	norm := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	want, have := norm(block), norm(strings.Split(src, "\n"))
	for i := 0; i+len(want) <= len(have); i++ {
		match := true
		for j := range want {
			if have[i+j] != want[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
