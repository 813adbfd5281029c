// Command storefront is breakerbox's demo: a small storefront whose services
// call flaky downstream fakes through breakerbox guards, with everything
// needed to watch and steer them. `make demo` runs it.
//
// It starts, on loopback ports it prints:
//
//   - an HTTP API (net/http behind httpmw's middleware) whose checkout
//     charges a payment provider through httpmw's Transport (guard
//     "payments") and falls back to queueing the payment;
//   - a gRPC inventory service (grpcmw's server interceptors and health);
//   - a GraphQL gateway (gqlgen) that calls both, and a recommendations
//     service, from fields carrying the @breaker directive, with fallbacks;
//   - the downstream fakes (payments, inventory, recommendations), whose
//     failure rate, latency and outages change at run time (-fault, the
//     buttons of the control page, POST /control/faults/{name});
//   - a load generator, so that something happens;
//   - the admin API and dashboard (/admin/), Prometheus metrics (/metrics),
//     and traces: as JSON lines to a file in the OS's temporary directory
//     (-traces), or over OTLP (-otlp, or OTEL_EXPORTER_OTLP_ENDPOINT).
//
// It prints what to open and what to try, a line for each change of a
// breaker's state, and a summary of the load every -report; it plays a
// guided tour of outages unless -tour=false. On Ctrl-C (SIGINT) or SIGTERM
// it stops every server and client and exits 0, or 1 if a goroutine was
// left behind (which it reports).
//
// Flags of note: -api-port, -graphql-port, -grpc-port, -fakes-port and
// -ops-port (0 picks a free port), -open-duration, -load, -fault, -traces,
// -otlp, -ready-file (a JSON file of the addresses, written once every
// server listens), -fleet (the fleet mode: replicas of the HTTP API sharing
// their breakers' verdicts over an embedded NATS server; see serveFleet),
// -fleet-redis (the fleet mode over a Redis server instead).
// Run with -h for the rest.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/otelbreaker"

	"github.com/breakerbox/breakerbox/examples/storefront/inventorypb"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	host                                               string
	apiPort, graphqlPort, grpcPort, fakesPort, opsPort int
	openDuration                                       time.Duration
	load                                               float64
	reportEvery                                        time.Duration
	faults                                             faultFlag
	tour                                               bool
	traces, otlp                                       string
	traceRatio                                         float64
	token                                              string
	readyFile                                          string
	fleet                                              fleetFlag
	fleetRedis                                         string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{faults: faultFlag{}}
	fs := flag.NewFlagSet("storefront", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&c.apiPort, "api-port", 8080, "port of the HTTP API (0: a free one)")
	fs.IntVar(&c.graphqlPort, "graphql-port", 8081, "port of the GraphQL gateway (0: a free one)")
	fs.IntVar(&c.fakesPort, "fakes-port", 8082, "port of the HTTP downstream fakes (0: a free one)")
	fs.IntVar(&c.grpcPort, "grpc-port", 9091, "port of the gRPC inventory service (0: a free one)")
	fs.IntVar(&c.opsPort, "ops-port", 9090, "port of the dashboard, admin API, metrics and fault controls (0: a free one)")
	fs.DurationVar(&c.openDuration, "open-duration", 10*time.Second, "how long the dependencies' breakers stay open after a trip")
	fs.Float64Var(&c.load, "load", 10, "GraphQL operations per second sent by the load generator (0: none)")
	fs.DurationVar(&c.reportEvery, "report", 10*time.Second, "how often to print the load and the breakers' states (0: never)")
	fs.Var(c.faults, "fault", "a fake's starting fault, NAME:key=value,... with NAME payments, inventory or recommendations\n"+
		"and keys failure (0-1), latency (a duration), outage (true/false); repeatable, e.g. -fault payments:failure=0.3")
	fs.BoolVar(&c.tour, "tour", true, "play a guided tour of outages (it stops when you change a fault yourself)")
	fs.StringVar(&c.traces, "traces", defaultTracesFile(), `where traces go, as JSON lines: a file, "stdout" or "none"`)
	fs.StringVar(&c.otlp, "otlp", "", "send traces over OTLP to this endpoint URL instead of -traces, such as http://localhost:4318\n"+
		"(OTEL_EXPORTER_OTLP_ENDPOINT does the same; OTEL_EXPORTER_OTLP_PROTOCOL=grpc for OTLP/gRPC)")
	fs.Float64Var(&c.traceRatio, "trace-ratio", 0.01, "share of traces exported besides those with breaker decisions; over OTLP the default is 1")
	fs.StringVar(&c.token, "admin-token", "", "write token of the admin API (default $BREAKERBOX_TOKEN, else a random one)")
	fs.StringVar(&c.readyFile, "ready-file", "", "write the addresses here as JSON once every server listens")
	fs.Var(&c.fleet, "fleet", "run the fleet mode: N replicas of the HTTP API sharing their breakers' verdicts over an embedded\n"+
		"NATS server (-fleet alone: 3, or -fleet=N); the other servers and the GraphQL tour are off")
	fs.StringVar(&c.fleetRedis, "fleet-redis", "", "share the fleet's verdicts over the Redis server at this address (host:port) instead of\n"+
		"the embedded NATS server, under keys of this run's own; implies -fleet")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.fleet > 0 && fs.NArg() > 0 && isCount(fs.Arg(0)) { // -fleet 5
		if err := c.fleet.Set(fs.Arg(0)); err != nil {
			return nil, fmt.Errorf("-fleet: %w", err)
		}
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return nil, err
		}
	}
	if c.fleetRedis != "" && c.fleet == 0 {
		c.fleet = defaultFleetReplicas
	}
	ratioSet := false
	fs.Visit(func(f *flag.Flag) { ratioSet = ratioSet || f.Name == "trace-ratio" })
	if !ratioSet {
		c.traceRatio = -1 // the exporter's default
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for name, v := range map[string]int{"api-port": c.apiPort, "graphql-port": c.graphqlPort, "fakes-port": c.fakesPort, "grpc-port": c.grpcPort, "ops-port": c.opsPort} {
		if v < 0 || v > 65535 {
			return nil, fmt.Errorf("-%s: %d must be between 0 and 65535", name, v)
		}
	}
	switch {
	case c.openDuration <= 0:
		return nil, fmt.Errorf("-open-duration: %v must be positive", c.openDuration)
	case c.load < 0 || c.load > 1000:
		return nil, fmt.Errorf("-load: %v must be between 0 and 1000", c.load)
	case ratioSet && !(c.traceRatio >= 0 && c.traceRatio <= 1):
		return nil, fmt.Errorf("-trace-ratio: %v must be between 0 and 1", c.traceRatio)
	case c.traces == "":
		return nil, errors.New(`-traces: empty; give a file, "stdout" or "none"`)
	}
	if c.otlp != "" {
		if err := checkOTLPURL(c.otlp); err != nil {
			return nil, err
		}
	}
	if c.token == "" {
		c.token = os.Getenv("BREAKERBOX_TOKEN")
	}
	if len(c.token) < admin.MinSecretLength {
		if c.token != "" {
			return nil, fmt.Errorf("-admin-token: must be at least %d characters", admin.MinSecretLength)
		}
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		c.token = hex.EncodeToString(b)
	}
	return c, nil
}

// defaultFaults is how the fakes behave unless -fault says otherwise: a
// little slow and rarely failing, as real services are.
func defaultFaults(flags faultFlag) map[string]Fault {
	out := map[string]Fault{
		fakePayments:        {FailureRate: 0.02, Latency: core.Duration(40 * time.Millisecond)},
		fakeInventory:       {FailureRate: 0.01, Latency: core.Duration(5 * time.Millisecond)},
		fakeRecommendations: {FailureRate: 0.02, Latency: core.Duration(60 * time.Millisecond)},
	}
	for name, p := range flags {
		out[name] = out[name].apply(p)
	}
	return out
}

// Addresses is the content of the -ready-file: where everything listens.
type Addresses struct {
	API      string `json:"api"`
	GraphQL  string `json:"graphql"`
	GRPC     string `json:"grpc"`
	Fakes    string `json:"fakes"`
	Ops      string `json:"ops"`
	Admin    string `json:"admin"`
	Metrics  string `json:"metrics"`
	Controls string `json:"controls"`
	Token    string `json:"token"`
	PID      int    `json:"pid"`
}

//go:embed control.html
var controlFS embed.FS

var controlPage = template.Must(template.ParseFS(controlFS, "control.html"))

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "storefront:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	code := serve(ctx, stop, cfg, stdout, stderr, say)
	stop()

	// Everything has stopped: report what did not.
	if left := leftoverGoroutines(5 * time.Second); len(left) > 0 {
		say("shutdown: goroutines left behind (%d):\n%s", len(left), strings.Join(left, "\n\n"))
		return 1
	}
	say("shutdown: clean, no goroutines left")
	return code
}

// serve runs the demo until ctx ends, then stops it and returns the exit
// status.
func serve(ctx context.Context, stop func(), cfg *config, stdout, stderr io.Writer, say func(string, ...any)) int {
	if cfg.fleet > 0 {
		return serveFleet(ctx, stop, cfg, stderr, say)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Tracing first, so that everything below is instrumented.
	tp, traceDesc, closeTraces, err := setupTracing(ctx, cfg.traces, cfg.otlp, cfg.traceRatio, stdout)
	if err != nil {
		say("storefront: traces: %v", err)
		return 1
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			say("storefront: flushing traces: %v", err)
		}
		_ = closeTraces()
	}()

	// The registry: one guard per dependency and per inbound route. The
	// terminal gets a line per state change, and the rejections in the
	// reports.
	rejected := &rejections{}
	reg, err := core.NewRegistry(
		core.WithPolicies(policies(cfg.openDuration)...),
		core.WithHooks(core.Hooks{
			OnStateChange: func(_ context.Context, e core.StateChange) { say("%s", describeChange(e)) },
			OnReject:      func(_ context.Context, r core.Rejection) { rejected.add(r) },
		}),
	)
	if err != nil {
		say("storefront: %v", err)
		return 1
	}
	for _, name := range dependencyGuards {
		reg.MustGuard(name)
	}
	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithTracerProvider(tp))
	if err != nil {
		say("storefront: %v", err)
		return 1
	}
	defer inst.Shutdown(context.Background())

	// Listen first, so that every address is known before anything starts.
	names := []string{"api", "graphql", "fakes", "grpc", "ops"}
	ports := []int{cfg.apiPort, cfg.graphqlPort, cfg.fakesPort, cfg.grpcPort, cfg.opsPort}
	lns := make([]net.Listener, len(names))
	for i, name := range names {
		lns[i], err = net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(ports[i])))
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			say("storefront: %v (pass -%s-port 0 to pick a free port)", err, name)
			return 1
		}
	}
	defer func() {
		for _, l := range lns {
			l.Close() // in case a server never started; a server closes its own
		}
	}()
	url := func(i int) string { return "http://" + lns[i].Addr().String() }
	apiLn, gqlLn, fakesLn, grpcLn, opsLn := lns[0], lns[1], lns[2], lns[3], lns[4]
	addrs := Addresses{
		API: url(0), GraphQL: url(1) + "/graphql", Fakes: url(2), GRPC: grpcLn.Addr().String(),
		Ops: url(4), Admin: url(4) + "/admin", Metrics: url(4) + "/metrics", Controls: url(4) + "/",
		Token: cfg.token, PID: os.Getpid(),
	}

	// Outbound HTTP: one pool of connections, traced.
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	defer base.CloseIdleConnections()
	tracedBase := otelhttp.NewTransport(base)

	faults := newFaults(defaultFaults(cfg.faults))

	// The storefront HTTP API, calling payments.
	storeAPI, err := newAPI(reg, addrs.Fakes, tracedBase)
	if err != nil {
		say("storefront: %v", err)
		return 1
	}

	// The gRPC inventory service, and the gateway's connection to it.
	grpcSrv, healthSrv := newInventoryServer(reg, faults, tp)
	conn, err := grpc.NewClient(addrs.GRPC,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		say("storefront: %v", err)
		return 1
	}
	defer conn.Close()

	// The GraphQL gateway.
	gw := &gateway{
		apiURL: addrs.API, recsURL: addrs.Fakes,
		http:      &http.Client{Transport: tracedBase, Timeout: 5 * time.Second},
		inventory: inventorypb.NewInventoryClient(conn),
	}
	gwHandler, err := gw.handler(reg)
	if err != nil {
		say("storefront: GraphQL schema: %v", err)
		return 1
	}

	// Operations: admin API and dashboard, metrics, fault controls.
	adminSrv, err := admin.New(reg,
		admin.WithToken("demo", cfg.token, admin.Write),
		admin.WithOpenRead(),
		admin.WithService("storefront", "breakerbox demo storefront", ""),
		admin.WithPushInterval(time.Second),
		admin.WithLogger(logger))
	if err != nil {
		say("storefront: admin: %v", err)
		return 1
	}
	adminSrv.Start()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bbprom.NewCollector(reg))
	tourCtx, stopTour := context.WithCancel(ctx)
	defer stopTour()
	var touring atomic.Bool
	faults.onChange = func(name string, f Fault) {
		if touring.Swap(false) {
			stopTour()
			say("tour: stopped, since you changed a fault: the controls are yours")
		}
		say("fault: %s: %s", name, f.describe())
	}
	ops := http.NewServeMux()
	ops.Handle("/admin/", http.StripPrefix("/admin", adminSrv))
	ops.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	ops.Handle("/control/", faults.controlHandler())
	ops.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = controlPage.Execute(w, map[string]string{"GraphQL": url(1) + "/", "API": addrs.API, "GRPC": addrs.GRPC, "Ops": addrs.Ops})
	})

	// Server spans are named after the service and the request.
	traced := func(service string, h http.Handler) http.Handler {
		return otelhttp.NewHandler(h, service, otelhttp.WithSpanNameFormatter(func(op string, r *http.Request) string {
			return op + " " + r.Method + " " + r.URL.Path
		}))
	}
	servers := []*http.Server{
		{Handler: traced("api", storeAPI.handler(reg))},
		{Handler: traced("graphql", gwHandler)},
		{Handler: traced("fakes", fakesHandler(faults))},
		{Handler: ops},
	}
	serveErr := make(chan error, len(servers)+1)
	var wg sync.WaitGroup
	for i, ln := range []net.Listener{apiLn, gqlLn, fakesLn, opsLn} {
		srv := servers[i]
		srv.ReadHeaderTimeout = 10 * time.Second
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
		wg.Go(func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		})
	}
	wg.Go(func() {
		if err := grpcSrv.Serve(grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			serveErr <- err
		}
	})

	if cfg.readyFile != "" {
		if err := writeJSONFile(cfg.readyFile, addrs); err != nil {
			say("storefront: -ready-file: %v", err)
			stop()
		}
	}
	printBanner(stderr, cfg, addrs, traceDesc)

	// Background work: the load, the reports, the tour.
	lg := &loadgen{url: addrs.GraphQL, rps: cfg.load, client: &http.Client{Transport: base, Timeout: 10 * time.Second}}
	var bg sync.WaitGroup
	bg.Go(func() { lg.run(ctx) })
	if cfg.reportEvery > 0 {
		bg.Go(func() { report(ctx, cfg.reportEvery, lg, reg, rejected, say) })
	}
	if cfg.tour {
		touring.Store(true)
		bg.Go(func() {
			runTour(tourCtx, faults, tourSteps(cfg.openDuration), say)
			touring.Store(false)
		})
	}

	code := 0
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		say("storefront: %v", err)
		code = 1
	}
	stop() // a second Ctrl-C stops the process at once
	say("stopping (Ctrl-C again to force)...")

	stopTour()
	bg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adminSrv.Close() // ends the dashboard's event streams, so that Shutdown need not wait for them
	var sw sync.WaitGroup
	for _, srv := range servers {
		sw.Go(func() {
			if err := srv.Shutdown(sctx); err != nil {
				say("storefront: shutdown: %v", err)
				srv.Close()
			}
		})
	}
	sw.Go(func() {
		healthSrv.Shutdown()
		done := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-sctx.Done():
			grpcSrv.Stop()
			<-done
		}
	})
	sw.Wait()
	wg.Wait()
	return code
}

// report prints, every interval, the load, the dependencies' states and
// the rejections.
func report(ctx context.Context, every time.Duration, lg *loadgen, reg *core.Registry, rejected *rejections, say func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		say("%s; breakers: %s; rejected: %s", lg.report(every), breakerStates(reg), rejected.take())
	}
}

// breakerStates lists the dependencies' breakers that are not closed, such
// as "payments open, inventory half-open", or says "all closed".
func breakerStates(reg *core.Registry) string {
	var states []string
	for _, name := range dependencyGuards {
		if g, ok := reg.Lookup(name); ok {
			if st := g.Breaker().State(); st != breaker.Closed {
				states = append(states, name+" "+st.String())
			}
		}
	}
	if len(states) == 0 {
		return "all closed"
	}
	return strings.Join(states, ", ")
}

// describeChange is the terminal's line for a breaker's change of state,
// such as "payments closed → open (failure rate 60% >= 50% over 20 calls)".
func describeChange(e core.StateChange) string {
	s := e.Guard + " " + e.From.String() + " → " + e.To.String()
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// rejections counts rejected calls by guard and reason between reports.
type rejections struct {
	mu sync.Mutex
	n  map[string]int // "guard (reason)"
}

func (r *rejections) add(rj core.Rejection) {
	reason := "rejected"
	if rj.Err != nil {
		reason = rj.Err.ErrorType()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[rj.Guard+" ("+reason+")"]++
}

// take returns the counts since the last call, such as
// "payments (circuit_open) 37, recommendations (circuit_open) 4", or "none".
func (r *rejections) take() string {
	r.mu.Lock()
	n := r.n
	r.n = nil
	r.mu.Unlock()
	if len(n) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(n))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.Itoa(n[k])
	}
	return strings.Join(parts, ", ")
}

func printBanner(w io.Writer, cfg *config, a Addresses, traces string) {
	load := "off (-load 0)"
	if cfg.load > 0 {
		load = fmt.Sprintf("%g GraphQL operations per second", cfg.load)
	}
	gql := strings.TrimSuffix(a.GraphQL, "/graphql")
	below := "a line for each change of a breaker's state"
	if cfg.reportEvery > 0 {
		below += fmt.Sprintf(" and, every %v, the load, the breakers' states and the rejections", cfg.reportEvery)
	}
	if cfg.tour {
		below += "; the tour's steps"
	}
	fmt.Fprintf(w, `
breakerbox storefront demo: every service runs in this process, on loopback.

  fault controls    %[1]s/  (buttons that break the fakes)
  dashboard         %[2]s/
  admin API         %[2]s/v1/guards  (write token "demo": %[3]s)
  metrics           %[4]s
  GraphQL gateway   %[5]s/  (a page to run queries; POST /graphql)
  HTTP API          %[6]s/api/products
  gRPC inventory    %[7]s  (storefront.v1.Inventory, with health and reflection)
  downstream fakes  %[8]s  (payments, recommendations; inventory is the gRPC service)
  traces            %[9]s
  load              %[10]s

Try it:
  1. Watch the breakers, from the repository's root:
       export BREAKERBOX_ADDR=%[2]s BREAKERBOX_TOKEN=%[3]s
       go -C cmd/breakerctl run . status --watch
  2. Make payments fail (or press "Outage" on the fault controls page):
       curl -X POST -d '{"outage":true}' %[1]s/control/faults/payments
     Within seconds the payments breaker opens: calls to payments are rejected fast, checkouts
     still answer, PAYMENT_PENDING (the fallback queues the payment), and readiness fails:
       curl -s -H 'Content-Type: application/json' -d '{"query":"mutation{checkout(productId:\"p1\"){id status note}}"}' %[5]s/graphql
       curl -s %[2]s/ready
  3. Let it recover:
       curl -X POST -d '{"outage":false}' %[1]s/control/faults/payments
     After its open time (%[11]v) the breaker half-opens, its probes succeed, and it closes.
  4. Steer it by hand (recorded in the audit log: go -C cmd/breakerctl run . audit):
       go -C cmd/breakerctl run . open payments --reason "provider maintenance"
       go -C cmd/breakerctl run . release payments --reason "maintenance over"
  5. Slow down recommendations or break inventory: the GraphQL fields' @breaker fallbacks answer
     (bestsellers, stock UNKNOWN):
       curl -X POST -d '{"latency":"400ms"}' %[1]s/control/faults/recommendations
  6. See a fleet: three replicas sharing their breakers' verdicts over an embedded NATS server:
       make demo DEMOFLAGS=-fleet
     or over a Redis server of yours: make demo DEMOFLAGS="-fleet-redis localhost:6379"

Below: %[12]s.
Ctrl-C stops everything.

`, a.Ops, a.Admin, a.Token, a.Metrics, gql, a.API, a.GRPC, a.Fakes, traces, load, cfg.openDuration, below)
}

// writeJSONFile writes v to path atomically (a reader never sees half of it).
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// expectedGoroutines are goroutines that outlive a clean shutdown by design:
// os/signal's, which lives as long as the process, and package ratelimit's
// coarse clock, which stops by itself a second after its last reader.
var expectedGoroutines = []string{
	"os/signal.signal_recv",
	"os/signal.loop",
	"github.com/breakerbox/breakerbox/ratelimit.(*coarseClock).run",
}

// leftoverGoroutines waits up to wait for every goroutine but the caller and
// the expected ones to end, and returns the stacks of those still running.
func leftoverGoroutines(wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		var left []string
		for i, g := range strings.Split(string(buf[:n]), "\n\n") {
			if i == 0 || slices.ContainsFunc(expectedGoroutines, func(f string) bool { return strings.Contains(g, f) }) {
				continue
			}
			left = append(left, g)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}
