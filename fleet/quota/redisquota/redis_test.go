package redisquota_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet/faultproxy"
	"github.com/breakerbox/breakerbox/fleet/quota"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
)

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

// startRedis runs a redis-server on a free loopback port and returns its
// address. Without redis-server it skips, or fails when CI=true.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found on PATH")
		}
		t.Skip("redis-server not found on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

func newStore(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	s, err := redisstore.New(c, redisstore.WithPrefix("quota-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type region struct {
	name   string
	proxy  *faultproxy.Proxy
	coords []*quota.Coordinator
	lims   []*quota.Limiter
}

func (r *region) lease() (quota.CoordinatorStats, bool) {
	for _, c := range r.coords {
		if s := c.Stats(); s.Region {
			return s, true
		}
	}
	return quota.CoordinatorStats{}, false
}

// TestRegionsOverRedis runs three regions, each with its own redis-server
// and two replicas, under a root redis-server reached through a fault
// proxy adding 50, 100 and 150 ms each way. It checks that the regions
// share the capacity evenly under equal demand, that the sum of admitted
// calls stays within the capacity (plus bursts), that a region cut from
// the root serves at its safe capacity, and that it gets its share back
// when the link heals.
func TestRegionsOverRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("about 40 s of real time")
	}
	res := quota.Resource{Name: "openai-tokens", Capacity: 300, SafeCapacity: 60, LeaseTTL: 6 * time.Second, RefreshEvery: time.Second}
	rootAddr := startRedis(t)
	var regions []*region
	for i, delay := range []time.Duration{50, 100, 150} {
		r := &region{name: fmt.Sprintf("r%d", i)}
		p, err := faultproxy.New(rootAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		p.SetDelay(delay * time.Millisecond)
		r.proxy = p
		regAddr := startRedis(t)
		for j := range 2 {
			id := fmt.Sprintf("%s-%d", r.name, j)
			c, err := quota.NewCoordinator(res, newStore(t, p.Addr()), newStore(t, regAddr), r.name, id,
				quota.WithTimeout(time.Second), quota.ExpectedReplicas(2))
			if err != nil {
				t.Fatal(err)
			}
			l, err := quota.NewLimiter(res, newStore(t, regAddr), id, quota.WithTimeout(time.Second), quota.ExpectedReplicas(2))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close(); c.Close() })
			r.coords, r.lims = append(r.coords, c), append(r.lims, l)
		}
		regions = append(regions, r)
	}
	// Every replica asks for 200 calls a second.
	admitted := make([]atomic.Int64, len(regions))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range regions {
		for _, l := range r.lims {
			wg.Go(func() {
				tk := time.NewTicker(5 * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tk.C:
						if l.Allow() {
							admitted[i].Add(1)
						}
					}
				}
			})
		}
	}
	defer func() { close(stop); wg.Wait() }()
	measure := func(d time.Duration) []float64 {
		before := make([]int64, len(regions))
		for i := range before {
			before[i] = admitted[i].Load()
		}
		time.Sleep(d)
		out := make([]float64, len(regions))
		for i := range out {
			out[i] = float64(admitted[i].Load()-before[i]) / d.Seconds()
		}
		return out
	}
	sum := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s
	}

	// Learning (one lease) and a few refreshes over the slow links.
	time.Sleep(2*res.LeaseTTL + 2*time.Second)
	for _, r := range regions {
		if s, ok := r.lease(); !ok || !s.OnLease || s.RegionCapacity < 95 || s.RegionCapacity > 105 {
			t.Errorf("region %s: %v %+v, want a lease of about 100", r.name, ok, s)
		}
	}
	got := measure(5 * time.Second)
	t.Logf("even: admitted per second %.1f (sum %.1f of %v)", got, sum(got), res.Capacity)
	if s := sum(got); s > res.Capacity*1.03 || s < res.Capacity*0.9 {
		t.Errorf("admitted %.1f/s in all, want about %v", s, res.Capacity)
	}

	// Cut the slowest region from the root.
	regions[2].proxy.Partition()
	time.Sleep(res.LeaseTTL + 5*time.Second)
	if s, _ := regions[2].lease(); s.OnLease || s.RegionCapacity != res.SafeCapacity {
		t.Errorf("partitioned region: %+v, want its safe capacity without a lease", s)
	}
	got = measure(4 * time.Second)
	t.Logf("partitioned: admitted per second %.1f (sum %.1f)", got, sum(got))
	if got[2] > res.SafeCapacity*1.1 || got[2] < res.SafeCapacity*0.85 {
		t.Errorf("partitioned region admitted %.1f/s, want its safe capacity %v", got[2], res.SafeCapacity)
	}
	if s := sum(got); s > res.Capacity*1.03 {
		t.Errorf("admitted %.1f/s in all while partitioned, above %v", s, res.Capacity)
	}

	// Heal: the region gets its share back, never above the capacity.
	if err := regions[2].proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	got = measure(4 * time.Second)
	t.Logf("healing: admitted per second %.1f (sum %.1f)", got, sum(got))
	if s := sum(got); s > res.Capacity*1.03 {
		t.Errorf("admitted %.1f/s in all while healing, above %v", s, res.Capacity)
	}
	time.Sleep(res.LeaseTTL)
	got = measure(4 * time.Second)
	t.Logf("healed: admitted per second %.1f (sum %.1f)", got, sum(got))
	if s, _ := regions[2].lease(); !s.OnLease || s.RegionCapacity < 95 {
		t.Errorf("healed region: %+v, want a lease of about 100", s)
	}
	if s := sum(got); s > res.Capacity*1.03 {
		t.Errorf("admitted %.1f/s in all after healing, above %v", s, res.Capacity)
	}
}
