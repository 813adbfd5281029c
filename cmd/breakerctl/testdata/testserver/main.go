// Command testserver serves breakerbox's admin API over a small registry,
// for breakerctl's end-to-end tests. It listens on -listen (default a free
// loopback port), prints its base URL on the first line of standard output,
// takes tokens from BREAKERBOX_ADMIN_TOKENS, and serves until interrupted.
//
// It lives under testdata so that the module's packages (./...) leave it
// out: it imports the server, package admin, which breakerctl does not (it
// speaks the API through package admin/wire). The tests build it by path.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	auditFile := flag.String("audit", "", "audit log file (JSON lines); default in memory only")
	withChaos := flag.Bool("chaos", false, "build the registry with chaos (at most 2 guards at once)")
	withCost := flag.Bool("cost", false, "price the payments policy's calls (0.002 USD a call)")
	withMachine := flag.Bool("machine", false, "add an inventory guard with custom states (healthy, degraded, maintenance)")
	flag.Parse()
	var cost *core.CostPolicy
	if *withCost {
		cost = &core.CostPolicy{PerCall: 0.002, PerRetry: 0.002, Currency: "USD"}
	}

	var regOpts []core.Option
	if *withChaos {
		inj, err := chaos.New(chaos.Config{MaxGuards: 2})
		if err != nil {
			return err
		}
		regOpts = append(regOpts, core.WithChaos(inj))
	}
	policies := []core.Policy{
		{Name: "payments", Match: []string{"payments.*"}, Tags: []string{"stripe"}, Critical: true, Cost: cost},
		{Name: "search", Match: []string{"search*"}, Tags: []string{"search"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8},
			RateLimit: &core.RateLimitPolicy{Limit: 2, Per: core.Duration(time.Hour)}},
	}
	if *withMachine {
		policies = append(policies, core.Policy{Name: "inventory", Match: []string{"inventory*"}, Machine: &core.MachinePolicy{
			Initial: "healthy",
			States:  []core.MachineState{{Name: "healthy"}, {Name: "degraded", Admit: "percent", Percent: 50}, {Name: "maintenance", Admit: "none", Manual: true}},
			Transitions: []core.MachineTransition{
				{From: "healthy", To: "degraded", When: core.MachineCondition{FailureRateAtLeast: 0.5, MinCalls: 4}},
				{From: "degraded", To: "healthy", When: core.MachineCondition{After: core.Duration(time.Minute)}},
			},
		}})
	}
	reg, err := core.NewRegistry(append(regOpts, core.WithPolicies(policies...))...)
	if err != nil {
		return err
	}
	if *withMachine { // custom states: breakerctl machine
		reg.MustGuard("inventory")
	}
	for _, n := range []string{"payments.charge", "payments.refund", "search", "GET /users/{id}"} {
		reg.MustGuard(n)
	}
	// Some traffic, so that counters are not all zero.
	g := reg.MustGuard("payments.charge")
	for i := 0; i < 10; i++ {
		p, err := g.Allow(context.Background())
		if err != nil {
			return err
		}
		if i%5 == 0 {
			p.Done(errors.New("declined"))
		} else {
			p.Done(nil)
		}
	}

	// Three calls on search: its rate limit (2 an hour) admits two.
	for range 3 {
		if p, err := reg.MustGuard("search").Allow(context.Background()); err == nil {
			p.Done(nil)
		}
	}

	opts := []admin.Option{admin.WithTokensFromEnv()}
	if *auditFile != "" {
		sink, err := admin.NewFileSink(*auditFile, admin.FileSinkOptions{})
		if err != nil {
			return err
		}
		defer sink.Close()
		opts = append(opts, admin.WithAuditSink(sink))
	}
	api, err := admin.New(reg, opts...)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", api))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s/admin\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
