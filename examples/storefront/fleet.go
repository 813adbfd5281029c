package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/natsstore"
	"github.com/breakerbox/breakerbox/fleet/natsstore/embedded"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
)

// fleetFlag is -fleet: 0 (off) or the number of replicas. -fleet alone
// means defaultFleetReplicas.
type fleetFlag int

const (
	defaultFleetReplicas = 3
	maxFleetReplicas     = 9
)

func (f *fleetFlag) String() string {
	if f == nil {
		return "0"
	}
	return strconv.Itoa(int(*f))
}

// IsBoolFlag lets -fleet stand alone, as a boolean flag does.
func (f *fleetFlag) IsBoolFlag() bool { return true }

func (f *fleetFlag) Set(s string) error {
	switch s {
	case "true":
		*f = defaultFleetReplicas
		return nil
	case "false":
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 || n > maxFleetReplicas {
		return fmt.Errorf("%q: give a number of replicas between 2 and %d", s, maxFleetReplicas)
	}
	*f = fleetFlag(n)
	return nil
}

// isCount reports whether s is a plain number, such as the 5 of "-fleet 5".
func isCount(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// FleetAddresses is the -ready-file of the fleet mode: the shared parts
// (fakes, fault controls on Ops) and each replica.
type FleetAddresses struct {
	Addresses
	// NATS is the embedded NATS server's URL, which the replicas share;
	// empty with -fleet-redis.
	NATS string `json:"nats,omitempty"`
	// Redis is the Redis server's address (-fleet-redis) and RedisPrefix
	// the hash tag of this run's keys there; empty without -fleet-redis.
	Redis       string             `json:"redis,omitempty"`
	RedisPrefix string             `json:"redisPrefix,omitempty"`
	Replicas    []ReplicaAddresses `json:"replicas"`
}

// ReplicaAddresses is where one replica of the fleet listens: its HTTP API,
// admin API and dashboard, metrics and fleet view all on one port.
type ReplicaAddresses struct {
	ID      string `json:"id"`
	API     string `json:"api"`
	Admin   string `json:"admin"`
	Metrics string `json:"metrics"`
	Fleet   string `json:"fleet"`
}

// replica is one replica of the storefront API in the fleet mode: what a
// process of its own would hold in production.
type replica struct {
	id    string
	reg   *core.Registry
	store fleet.Store
	// closeConn closes the store's connection (NATS or Redis), if any.
	closeConn func()
	agent     *fleet.Agent
	admin     *admin.Server
	api       *api
	srv       *http.Server
	ln        net.Listener
	addrs     ReplicaAddresses
	// sent and queued count the load generator's checkouts to this replica.
	sent, pending, failed atomic.Int64
}

// serveFleet is the demo's fleet mode (-fleet N): N replicas of the
// storefront's HTTP API, each with its own registry, admin API, dashboard
// and metrics, share their breakers' verdicts through fleet.Join over a
// NATS server embedded in this process (JetStream in a temporary
// directory), or over the Redis server at -fleet-redis (fleet/redisstore,
// under keys of this run's own, removed when it ends), and call one shared
// payments fake. Each replica's admin API serves the fleet endpoints
// (admin.WithFleet): its dashboard's Fleet panel, breakerctl fleet, and
// fleet-wide operator actions. The load generator sends
// checkouts mostly to the first replicas and only a trickle to the last
// one, so that when payments fails, the last replica opens because the
// others voted (a quorum of 2), not on its own evidence.
func serveFleet(ctx context.Context, stop func(), cfg *config, stderr io.Writer, say func(string, ...any)) int {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := int(cfg.fleet)

	// The store: Redis (-fleet-redis), or an embedded NATS server.
	var backend fleetBackend
	if cfg.fleetRedis != "" {
		backend = fleetBackend{redisAddr: cfg.fleetRedis, redisFleet: demoFleetName()}
		if err := pingRedis(ctx, cfg.fleetRedis); err != nil {
			say("storefront: -fleet-redis %s: %v (is redis-server running there?)", cfg.fleetRedis, err)
			return 1
		}
		defer backend.removeKeys(say)
	} else {
		dir, err := os.MkdirTemp("", "breakerbox-fleet-nats-")
		if err != nil {
			say("storefront: %v", err)
			return 1
		}
		defer os.RemoveAll(dir)
		nsrv, err := embedded.Start(dir)
		if err != nil {
			say("storefront: %v", err)
			return 1
		}
		defer nsrv.Shutdown()
		backend.natsURL = nsrv.URL()
	}

	// Listeners: the fleet's page and fault controls, the fakes, and one
	// port per replica (the ports after -ops-port, or free ones).
	lns, err := listenFleet(cfg, n)
	if err != nil {
		say("storefront: %v", err)
		return 1
	}
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	opsLn, fakesLn := lns[0], lns[1]
	url := func(l net.Listener) string { return "http://" + l.Addr().String() }
	addrs := FleetAddresses{
		Addresses: Addresses{
			Fakes: url(fakesLn), Ops: url(opsLn), Controls: url(opsLn) + "/",
			Token: cfg.token, PID: os.Getpid(),
		},
		NATS:  backend.natsURL,
		Redis: backend.redisAddr,
	}
	if backend.redisAddr != "" {
		addrs.RedisPrefix = backend.prefix()
	}

	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	defer base.CloseIdleConnections()
	faults := newFaults(defaultFaults(cfg.faults))
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

	// The replicas. Each closes in the reverse order of its start.
	replicas := make([]*replica, 0, n)
	defer func() {
		for _, r := range replicas {
			r.close(say)
		}
	}()
	for i := range n {
		r, err := startReplica(ctx, i, lns[2+i], cfg, backend, addrs.Fakes, base, logger, say)
		if err != nil {
			say("storefront: replica-%d: %v", i+1, err)
			return 1
		}
		replicas = append(replicas, r)
		addrs.Replicas = append(addrs.Replicas, r.addrs)
	}

	front := http.NewServeMux()
	front.Handle("/control/", faults.controlHandler())
	front.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = fleetPage.Execute(w, addrs)
	})
	servers := []*http.Server{{Handler: front}, {Handler: fakesHandler(faults)}}
	for _, r := range replicas {
		servers = append(servers, r.srv)
	}
	serveErr := make(chan error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		ln := lns[i]
		srv.ReadHeaderTimeout = 10 * time.Second
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
		wg.Go(func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		})
	}

	if cfg.readyFile != "" {
		if err := writeJSONFile(cfg.readyFile, addrs); err != nil {
			say("storefront: -ready-file: %v", err)
			stop()
		}
	}
	printFleetBanner(stderr, cfg, addrs)

	var bg sync.WaitGroup
	client := &http.Client{Transport: base, Timeout: 10 * time.Second}
	bg.Go(func() { fleetLoad(ctx, cfg.load, client, replicas) })
	if cfg.reportEvery > 0 {
		bg.Go(func() { fleetReport(ctx, cfg.reportEvery, replicas, say) })
	}
	if cfg.tour {
		touring.Store(true)
		bg.Go(func() {
			runTour(tourCtx, faults, fleetTourSteps(cfg.openDuration, replicas[len(replicas)-1].id), say)
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
	stop()
	say("stopping (Ctrl-C again to force)...")
	stopTour()
	bg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range replicas {
		r.admin.Close() // ends the dashboards' event streams
	}
	var sw sync.WaitGroup
	for _, srv := range servers {
		sw.Go(func() {
			if err := srv.Shutdown(sctx); err != nil {
				say("storefront: shutdown: %v", err)
				srv.Close()
			}
		})
	}
	sw.Wait()
	wg.Wait()
	return code
}

// listenFleet opens the fleet mode's listeners: the fleet's page and fault
// controls (-ops-port), the fakes (-fakes-port), then one per replica, on
// the ports after -ops-port (free ones when -ops-port is 0).
func listenFleet(cfg *config, n int) ([]net.Listener, error) {
	ports := []int{cfg.opsPort, cfg.fakesPort}
	for i := range n {
		p := 0
		if cfg.opsPort != 0 {
			p = cfg.opsPort + 1 + i
		}
		ports = append(ports, p)
	}
	var lns []net.Listener
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("%v (the fleet uses -ops-port, -fakes-port and the %d ports after -ops-port; pass -ops-port 0 for free ones)", err, n)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// fleetBackend is the fleet's store: the embedded NATS server (natsURL),
// or a Redis server (redisAddr, -fleet-redis) with this run's keys under
// the fleet name redisFleet.
type fleetBackend struct {
	natsURL    string
	redisAddr  string
	redisFleet string
}

// demoFleetName names this run's fleet on a Redis server that may be
// shared: two demos (or a demo and its last run's keys) never mix.
func demoFleetName() string {
	return fmt.Sprintf("storefront-demo-%d-%s", os.Getpid(), strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36))
}

// prefix is the hash tag of this run's keys on Redis.
func (b fleetBackend) prefix() string { return "{breakerbox:" + b.redisFleet + "}" }

// newRedisClient is a replica's own Redis client: calls end with their
// context's deadline (ContextTimeoutEnabled), as redisstore asks.
func newRedisClient(addr, name string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, ClientName: name, ContextTimeoutEnabled: true})
}

// pingRedis checks that a Redis server answers at addr, so that a wrong
// -fleet-redis fails at once rather than as a fleet whose store is down.
func pingRedis(ctx context.Context, addr string) error {
	c := newRedisClient(addr, "storefront")
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err() //breakervet:ignore a start-up check that Redis answers, before any guard exists
}

// connect opens replica id's own connection to the store, and the store
// on it; closeConn closes the connection after the store.
func (b fleetBackend) connect(ctx context.Context, id string) (store fleet.Store, closeConn func(), err error) {
	if b.redisAddr != "" {
		c := newRedisClient(b.redisAddr, "storefront-"+id)
		st, err := redisstore.New(c, redisstore.WithFleet(b.redisFleet))
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return st, func() { c.Close() }, nil
	}
	nc, err := nats.Connect(b.natsURL, nats.Name("storefront "+id), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := natsstore.New(sctx, js, natsstore.WithBucket("storefront_fleet"), natsstore.WithStorage(jetstream.MemoryStorage))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return st, nc.Close, nil
}

// removeKeys deletes this run's keys from Redis when the demo ends: votes
// and heartbeats expire by themselves, but the overrides and the version
// counter would stay.
func (b fleetBackend) removeKeys(say func(string, ...any)) {
	c := newRedisClient(b.redisAddr, "storefront")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var keys []string
	it := c.Scan(ctx, 0, b.prefix()+":*", 100).Iterator() //breakervet:ignore the demo's clean-up at exit, after the replicas stopped
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		say("storefront: removing the demo's keys from Redis: %v", err)
		return
	}
	for k := range slices.Chunk(keys, 100) {
		if err := c.Del(ctx, k...).Err(); err != nil { //breakervet:ignore the demo's clean-up at exit, after the replicas stopped
			say("storefront: removing the demo's keys from Redis: %v", err)
			return
		}
	}
}

// startReplica builds replica i: a registry with the storefront's
// policies, joined to the fleet through its own connection to the store
// (NATS or Redis), and its HTTP server (API, admin with the fleet
// endpoints, metrics, fleet view) on ln.
func startReplica(ctx context.Context, i int, ln net.Listener, cfg *config, backend fleetBackend, fakesURL string, base http.RoundTripper, logger *slog.Logger, say func(string, ...any)) (r *replica, err error) {
	r = &replica{id: fmt.Sprintf("replica-%d", i+1), ln: ln}
	defer func() {
		if err != nil {
			r.close(say)
		}
	}()
	r.reg, err = core.NewRegistry(
		core.WithPolicies(policies(cfg.openDuration)...),
		core.WithHooks(core.Hooks{
			OnStateChange: func(_ context.Context, e core.StateChange) { say("%s: %s", r.id, describeChange(e)) },
		}),
	)
	if err != nil {
		return r, err
	}
	r.reg.MustGuard("payments")

	r.store, r.closeConn, err = backend.connect(ctx, r.id)
	if err != nil {
		return r, err
	}
	r.agent, err = fleet.Join(r.reg, r.store,
		fleet.WithReplicaID(r.id), fleet.WithRegion("demo"),
		fleet.WithHeartbeat(time.Second), fleet.WithLogger(logger))
	if err != nil {
		return r, err
	}

	r.api, err = newAPI(r.reg, fakesURL, base)
	if err != nil {
		return r, err
	}
	r.admin, err = admin.New(r.reg,
		admin.WithToken("demo", cfg.token, admin.Write),
		admin.WithOpenRead(),
		admin.WithService("storefront-"+r.id, "breakerbox demo storefront, fleet "+r.id, ""),
		admin.WithPushInterval(time.Second),
		admin.WithFleet(r.agent),
		admin.WithLogger(logger))
	if err != nil {
		return r, fmt.Errorf("admin: %w", err)
	}
	r.admin.Start()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bbprom.NewCollector(r.reg))

	mux := http.NewServeMux()
	mux.Handle("/api/", r.api.handler(r.reg))
	mux.Handle("/admin/", http.StripPrefix("/admin", r.admin))
	mux.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /fleet", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, r.agent.Snapshot())
	})
	r.srv = &http.Server{Handler: mux}
	u := "http://" + ln.Addr().String()
	r.addrs = ReplicaAddresses{ID: r.id, API: u, Admin: u + "/admin", Metrics: u + "/metrics", Fleet: u + "/fleet"}
	return r, nil
}

// close detaches the replica from the fleet and closes its store and the
// store's connection (its HTTP server is shut down by serveFleet).
func (r *replica) close(say func(string, ...any)) {
	if r.agent != nil {
		if err := r.agent.Close(); err != nil {
			say("storefront: %s: leaving the fleet: %v", r.id, err)
		}
	}
	if r.store != nil {
		_ = r.store.Close()
	}
	if r.closeConn != nil {
		r.closeConn()
	}
}

// fleetWeights is the share of the load each replica gets: the last one a
// trickle (it never sees enough failures of its own to open), the others
// the rest, evenly.
func fleetWeights(n int) []float64 {
	w := make([]float64, n)
	w[n-1] = 0.04
	for i := range n - 1 {
		w[i] = 0.96 / float64(n-1)
	}
	return w
}

// fleetLoad sends checkouts to the replicas at rps in all, by fleetWeights,
// one at a time per replica, until ctx ends.
func fleetLoad(ctx context.Context, rps float64, client *http.Client, replicas []*replica) {
	if rps <= 0 {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, w := range fleetWeights(len(replicas)) {
		r := replicas[i]
		every := time.Duration(float64(time.Second) / (rps * w))
		wg.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				status, err := checkout(ctx, client, r.addrs.API)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					r.failed.Add(1)
				case status == "PAYMENT_PENDING":
					r.pending.Add(1)
				}
				r.sent.Add(1)
			}
		})
	}
}

// checkout posts one checkout to the API at apiURL and returns the order's
// status.
func checkout(ctx context.Context, client *http.Client, apiURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/api/checkout",
		bytes.NewReader([]byte(`{"productId":"p3","quantity":1}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var o Order
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		return "", err
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("checkout: %s", resp.Status)
	}
	return o.Status, nil
}

// fleetReport prints, every interval, each replica's checkouts and
// payments breaker, and the fleet's open votes as the first replica sees
// them.
func fleetReport(ctx context.Context, every time.Duration, replicas []*replica, say func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var parts []string
		for _, r := range replicas {
			st := breaker.Closed
			if g, ok := r.reg.Lookup("payments"); ok {
				st = g.Breaker().State()
			}
			parts = append(parts, fmt.Sprintf("%s payments %s (%d checkouts, %d pending)",
				r.id, st, r.sent.Swap(0), r.pending.Swap(0)))
		}
		snap := replicas[0].agent.Snapshot()
		votes := "none"
		for _, g := range snap.Guards {
			if g.Guard == "payments" && len(g.OpenVotes) > 0 {
				votes = strings.Join(g.OpenVotes, ", ")
			}
		}
		say("fleet: %s; %d members; open votes on payments: %s", strings.Join(parts, "; "), len(snap.Members), votes)
	}
}

// fleetTourSteps is the fleet mode's guided tour: payments goes down and
// comes back. quiet is the replica that gets a trickle of load.
func fleetTourSteps(open time.Duration, quiet string) []tourStep {
	return []tourStep{
		{15 * time.Second, fakePayments, &FaultPatch{Outage: ptr(true)},
			"payments goes down for every replica. The busy replicas' breakers open on their own failures and vote open; " +
				quiet + " has seen too few calls to open alone, and opens because a quorum of 2 replicas voted " +
				"(each replica's /fleet, and its dashboard, show the votes)."},
		{40 * time.Second, fakePayments, nil,
			fmt.Sprintf("payments is back. After the open time (%v) one replica of the fleet probes, under a lease; "+
				"when its probes succeed the votes go and every replica closes.", open)},
		{30 * time.Second, fakePayments, &FaultPatch{FailureRate: ptr(0.6)},
			"payments fails 60% of charges: the same again, by the failure rate rather than an outage."},
		{40 * time.Second, fakePayments, nil,
			"payments is healthy again. That was the tour: the fleet keeps running; break things yourself (see above)."},
	}
}

var fleetPage = template.Must(template.New("fleet").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>breakerbox fleet demo</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}code{background:#f3f3f3;padding:0 .3em}td,th{padding:.2em .8em;text-align:left}</style>
</head><body>
<h1>breakerbox fleet demo</h1>
<p>{{len .Replicas}} replicas of the storefront API share their breakers' verdicts through {{.StoreDescription}}.
Each has its own registry, dashboard (with a Fleet panel), admin API and metrics.</p>
<table><tr><th>replica</th><th>dashboard</th><th>fleet view</th><th>API</th><th>metrics</th></tr>
{{range .Replicas}}<tr><td>{{.ID}}</td><td><a href="{{.Admin}}/">{{.Admin}}/</a></td><td><a href="{{.Fleet}}">/fleet</a></td>
<td><a href="{{.API}}/api/products">{{.API}}</a></td><td><a href="{{.Metrics}}">/metrics</a></td></tr>
{{end}}</table>
<h2>Break payments</h2>
<p><button onclick="fault({outage:true})">Outage</button> <button onclick="fault({failure:0.6})">Fail 60%</button>
<button onclick="reset()">Healthy</button> <span id="out"></span></p>
<p>From a shell: <code>curl -X POST -d '{"outage":true}' {{.Ops}}/control/faults/payments</code></p>
<script>
async function show(r){document.getElementById('out').textContent=JSON.stringify(await r.json())}
function fault(p){fetch('/control/faults/payments',{method:'POST',body:JSON.stringify(p)}).then(show)}
function reset(){fetch('/control/faults/payments/reset',{method:'POST'}).then(show)}
</script>
</body></html>
`))

// StoreDescription says where the fleet's store is, for the banner and
// the fleet page.
func (a FleetAddresses) StoreDescription() string {
	if a.Redis != "" {
		return fmt.Sprintf("the Redis server at %s (keys %s:*)", a.Redis, a.RedisPrefix)
	}
	return fmt.Sprintf("an embedded NATS server (%s)", a.NATS)
}

func printFleetBanner(w io.Writer, cfg *config, a FleetAddresses) {
	load := "off (-load 0)"
	if cfg.load > 0 {
		load = fmt.Sprintf("%g checkouts per second, %s getting only a trickle", cfg.load, a.Replicas[len(a.Replicas)-1].ID)
	}
	var b strings.Builder
	for _, r := range a.Replicas {
		fmt.Fprintf(&b, "  %-10s  dashboard %s/   fleet view %s   API %s\n", r.ID, r.Admin, r.Fleet, r.API)
	}
	quiet := a.Replicas[len(a.Replicas)-1]
	fmt.Fprintf(w, `
breakerbox fleet demo: %[1]d replicas of the storefront API, in this process, sharing their
breakers' verdicts over %[2]s.

  fleet page and fault controls  %[3]s/
  downstream fakes               %[4]s
  load                           %[5]s
%[6]s
Try it:
  1. Make payments fail for everyone:
       curl -X POST -d '{"outage":true}' %[3]s/control/faults/payments
     The busy replicas open on their own failures and vote; %[7]s opens too, adopting the
     fleet's verdict (quorum: 2 replicas). See the votes:
       curl -s %[8]s
  2. Let it recover:
       curl -X POST -d '{"outage":false}' %[3]s/control/faults/payments
  3. Watch one replica with breakerctl (write token "demo": %[9]s), and see its fleet:
       export BREAKERBOX_ADDR=%[10]s BREAKERBOX_TOKEN=%[9]s
       go -C cmd/breakerctl run . status --watch
       go -C cmd/breakerctl run . fleet
     Every replica's dashboard shows the same in its Fleet panel.
  4. Open payments on every replica at once, from any one (audited once, with your reason):
       go -C cmd/breakerctl run . open payments --fleet --reason "provider maintenance"
       go -C cmd/breakerctl run . release payments --fleet --reason "maintenance over"

Ctrl-C stops everything.

`, len(a.Replicas), a.StoreDescription(), a.Ops, a.Fakes, load, b.String(), quiet.ID, quiet.Fleet, a.Token, a.Replicas[0].Admin)
}
