package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a redis-server of its own for the test, on a free
// loopback port, in the test's temp directory, without persistence, and
// returns its address; it stops when the test ends. Without redis-server
// on PATH the test is skipped, or fails when CI=true (.ci/run installs
// it).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not installed (apt-get install redis-server; .ci/run does it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// A free port: the kernel picks one, and the listener is closed just
	// before redis-server binds it. Another process may take it in
	// between; redis-server then exits, and the test says so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)

	var out lockedBuffer
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("redis-server's output:\n%s", out.String())
		}
	})

	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("redis-server on %s exited: %v\n%s", addr, err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err() //breakervet:ignore the test waits for its own redis-server to start
		cancel()
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer PING: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisKeys lists the keys on the Redis server at addr that match pattern.
func redisKeys(t *testing.T, addr, pattern string) []string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := c.Keys(ctx, pattern).Result() //breakervet:ignore the test inspects its own redis-server
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestFleetQuorumOnRedis is TestFleetQuorum with -fleet-redis: the three
// replicas share their verdicts over a real redis-server (fleet/redisstore)
// instead of the embedded NATS server, with the same quorum and the same
// fleet-wide action. The run's keys carry a prefix of its own, and are
// gone once the demo stops.
func TestFleetQuorumOnRedis(t *testing.T) {
	addr := startRedis(t)
	var prefix string
	t.Run("demo", func(t *testing.T) {
		addrs := startFleet(t, "-fleet=3", "-fleet-redis="+addr, "-load=0", "-tour=false", "-report=0", "-open-duration=2m")
		if addrs.Redis != addr || addrs.NATS != "" || !strings.HasPrefix(addrs.RedisPrefix, "{breakerbox:storefront-demo-") {
			t.Errorf("store: Redis %q (prefix %q), NATS %q; want %s with a prefix of the run's own, no NATS", addrs.Redis, addrs.RedisPrefix, addrs.NATS, addr)
		}
		prefix = addrs.RedisPrefix
		checkFleetQuorum(t, addrs)
		checkFleetAction(t, addrs)
		if keys := redisKeys(t, addr, prefix+":*"); len(keys) == 0 {
			t.Errorf("no keys under %s on the Redis server", prefix)
		}
	})
	if prefix == "" {
		return
	}
	// The demo has stopped (startFleet's cleanup ran with the subtest).
	if keys := redisKeys(t, addr, "*"); len(keys) != 0 {
		t.Errorf("keys left on the Redis server after the demo stopped: %q", keys)
	}
}

// A -fleet-redis where no Redis answers stops the demo at once, saying so.
func TestFleetRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg, err := parseFlags([]string{"-fleet-redis", addr, "-fakes-port=0", "-ops-port=0", "-load=0", "-tour=false", "-report=0"}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.fleet != defaultFleetReplicas {
		t.Errorf("-fleet-redis alone: fleet %d, want %d", cfg.fleet, defaultFleetReplicas)
	}
	var log lockedBuffer
	say := func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if code := serve(ctx, stop, cfg, &strings.Builder{}, &log, say); code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	if got := log.String(); !strings.Contains(got, "-fleet-redis "+addr) || !strings.Contains(got, "is redis-server running there?") {
		t.Errorf("output %q", got)
	}
}
