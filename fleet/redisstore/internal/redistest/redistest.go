// Package redistest starts real redis-server processes for tests: a
// standalone server, a Redis Cluster with replicas, a Sentinel-managed
// primary and replica. Each runs on free loopback ports in the test's temp
// directory, without persistence, and stops when the test ends.
//
// Without redis-server on PATH a test is skipped, except when CI=true,
// where it fails (.ci/run installs the redis-server Debian package, which
// brings redis-cli and Sentinel too).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bin returns the path of a Redis binary (redis-server, redis-cli),
// skipping the test when it is missing, or failing it when CI=true.
func Bin(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		msg := name + " not installed (apt-get install redis-server; .ci/run does it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Server is one redis-server (or sentinel) process.
type Server struct {
	// Addr is the server's address, 127.0.0.1:Port; it stays the same
	// across Kill and Restart.
	Addr string
	Port int

	t    testing.TB
	bin  string
	args []string
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	out    *strings.Builder
}

// portsInUse avoids handing one port out twice within a test process.
var (
	portsMu    sync.Mutex
	portsInUse = map[int]bool{}
)

// freePort finds a loopback port that is free, and whose +10000 (the
// Cluster bus port) is free too when bus is set.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	free := func(p int) bool {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}
	for range 1000 {
		p := 20000 + rand.IntN(30000)
		if portsInUse[p] || (bus && portsInUse[p+10000]) {
			continue
		}
		if free(p) && (!bus || free(p+10000)) {
			portsInUse[p] = true
			if bus {
				portsInUse[p+10000] = true
			}
			return p
		}
	}
	t.Fatal("redistest: no free port")
	return 0
}

// Start runs a standalone redis-server with the extra arguments
// (redis-server's command-line form: "--replicaof", "127.0.0.1", "6379").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, false, nil, extra...)
}

func start(t testing.TB, bus bool, conf func(dir string, port int) string, extra ...string) *Server {
	t.Helper()
	bin := Bin(t, "redis-server")
	port := freePort(t, bus)
	dir := t.TempDir()
	var args []string
	if conf != nil {
		args = append(args, conf(dir, port))
	}
	args = append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	args = append(args, extra...)
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, t: t, bin: bin, args: args, dir: dir}
	s.launch()
	t.Cleanup(func() { s.Kill() })
	return s
}

// launch starts the process and waits until it answers PING.
func (s *Server) launch() {
	s.t.Helper()
	cmd := exec.Command(s.bin, s.args...)
	out := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.mu.Lock()
	s.cmd, s.exited, s.out = cmd, exited, out
	s.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			s.t.Fatalf("redis-server %s exited: %v\n%s", s.Addr, err, out.String())
		default:
		}
		if ping(s.Addr) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server %s did not start:\n%s", s.Addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends one inline PING and reports a +PONG.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "+PONG")
}

// signal sends sig to the running process.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Stop freezes the server (SIGSTOP): its sockets stay open, nothing
// answers. Cont resumes it.
func (s *Server) Stop() { s.signal(syscall.SIGSTOP) }

// Cont resumes a server frozen by Stop.
func (s *Server) Cont() { s.signal(syscall.SIGCONT) }

// Kill kills the server (SIGKILL; it resumes a stopped one first) and
// waits for it to exit. Its data is lost (no persistence).
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Process.Signal(syscall.SIGCONT)
	<-exited
}

// Restart starts a killed server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.launch()
}

// Output is what the server printed so far (warnings and errors).
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// Client returns a go-redis client of this one server, closed when the
// test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Do runs one command on this server with a short timeout.
func (s *Server) Do(args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Result()
}

// WaitFor polls cond until it holds, failing the test after limit. It
// measures nothing.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Info returns one field of INFO (e.g. "role", "master_link_status").
func (s *Server) Info(field string) string {
	v, err := s.Do("INFO")
	if err != nil {
		return ""
	}
	text, _ := v.(string)
	for _, line := range strings.Split(text, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && k == field {
			return val
		}
	}
	return ""
}

// Cluster is a Redis Cluster of masters and replicas made by the test.
type Cluster struct {
	Nodes []*Server
	t     testing.TB
}

// StartCluster starts masters redis-servers in cluster mode (node timeout
// 1 s) and makes them a cluster with redis-cli --cluster create, the 16384
// slots split evenly.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	cli := Bin(t, "redis-cli")
	c := &Cluster{t: t}
	args := []string{"--cluster", "create"}
	for range masters {
		n := c.startNode()
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK(c.Nodes...)
	return c
}

func (c *Cluster) startNode() *Server {
	c.t.Helper()
	n := start(c.t, true, nil,
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0",
		"--appendonly", "no")
	c.Nodes = append(c.Nodes, n)
	return n
}

// waitOK waits until every node reports cluster_state:ok and sees every
// other node.
func (c *Cluster) waitOK(nodes ...*Server) {
	c.t.Helper()
	WaitFor(c.t, "cluster_state:ok on every node", 30*time.Second, func() bool {
		for _, n := range nodes {
			v, err := n.Do("CLUSTER", "INFO")
			if err != nil {
				return false
			}
			info, _ := v.(string)
			if !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))+"\r") {
				return false
			}
		}
		return true
	})
}

// Addrs are the nodes' addresses, to seed a ClusterClient.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// NodeID returns a node's cluster id.
func (n *Server) NodeID() string {
	v, err := n.Do("CLUSTER", "MYID")
	if err != nil {
		n.t.Fatalf("CLUSTER MYID on %s: %v", n.Addr, err)
	}
	id, _ := v.(string)
	return id
}

// MasterOf returns the master serving key's slot.
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	slot := Slot(key)
	v, err := c.Nodes[0].Do("CLUSTER", "NODES")
	if err != nil {
		c.t.Fatal(err)
	}
	text, _ := v.(string)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "master") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && slot >= l && slot <= h {
				addr, _, _ := strings.Cut(f[1], "@")
				for _, n := range c.Nodes {
					if n.Addr == addr {
						return n
					}
				}
			}
		}
	}
	c.t.Fatalf("redistest: no master serves slot %d of %q", slot, key)
	return nil
}

// AddReplica starts a node, joins it to the cluster and makes it a
// replica of master, waiting until its replication link is up.
func (c *Cluster) AddReplica(master *Server) *Server {
	c.t.Helper()
	n := c.startNode()
	if _, err := n.Do("CLUSTER", "MEET", "127.0.0.1", master.Port); err != nil {
		c.t.Fatalf("CLUSTER MEET: %v", err)
	}
	id := master.NodeID()
	WaitFor(c.t, "the new node to learn the master", 20*time.Second, func() bool {
		v, err := n.Do("CLUSTER", "NODES")
		text, _ := v.(string)
		return err == nil && strings.Contains(text, id)
	})
	if _, err := n.Do("CLUSTER", "REPLICATE", id); err != nil {
		c.t.Fatalf("CLUSTER REPLICATE: %v", err)
	}
	WaitFor(c.t, "the replica's link to its master", 30*time.Second, func() bool {
		return n.Info("master_link_status") == "up"
	})
	c.waitOK(c.Nodes...)
	return n
}

// Failover makes replica take over its master (CLUSTER FAILOVER, a
// coordinated manual failover) and waits until it is a master and the
// cluster is ok.
func (c *Cluster) Failover(replica *Server) {
	c.t.Helper()
	if _, err := replica.Do("CLUSTER", "FAILOVER"); err != nil {
		c.t.Fatalf("CLUSTER FAILOVER on %s: %v", replica.Addr, err)
	}
	WaitFor(c.t, "the replica to become master", 30*time.Second, func() bool {
		return replica.Info("role") == "master"
	})
	c.waitOK(c.Nodes...)
}

// Slot is Redis Cluster's hash slot of key (CRC16 of the hash tag, mod
// 16384).
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// Sentinel is a primary, a replica and the sentinels that watch them.
type Sentinel struct {
	// Name is the monitored master's name, for redis.FailoverOptions.
	Name      string
	Primary   *Server
	Replica   *Server
	Sentinels []*Server
	t         testing.TB
}

// StartSentinel starts a primary, a replica of it and n sentinels (quorum
// n/2+1, down-after 1 s) monitoring them as "mymaster", and waits until
// every sentinel knows the replica.
func StartSentinel(t testing.TB, n int) *Sentinel {
	t.Helper()
	s := &Sentinel{Name: "mymaster", t: t}
	s.Primary = Start(t)
	s.Replica = Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(s.Primary.Port))
	WaitFor(t, "the replica's link to the primary", 30*time.Second, func() bool {
		return s.Replica.Info("master_link_status") == "up"
	})
	quorum := n/2 + 1
	for range n {
		conf := func(dir string, port int) string {
			path := filepath.Join(dir, "sentinel.conf")
			text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
				"sentinel monitor %s 127.0.0.1 %d %d\n"+
				"sentinel down-after-milliseconds %s 1000\n"+
				"sentinel failover-timeout %s 5000\n"+
				"sentinel parallel-syncs %s 1\n",
				port, dir, s.Name, s.Primary.Port, quorum, s.Name, s.Name, s.Name)
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}
		sen := start(t, false, conf, "--sentinel")
		s.Sentinels = append(s.Sentinels, sen)
	}
	for _, sen := range s.Sentinels {
		WaitFor(t, "the sentinel to discover the replica", 30*time.Second, func() bool {
			v, err := sen.Do("SENTINEL", "REPLICAS", s.Name)
			if err != nil {
				return false
			}
			return strings.Contains(fmt.Sprint(v), strconv.Itoa(s.Replica.Port))
		})
	}
	return s
}

// Addrs are the sentinels' addresses, for redis.FailoverOptions.
func (s *Sentinel) Addrs() []string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr
	}
	return addrs
}

// MasterAddr asks the first sentinel for the master's address.
func (s *Sentinel) MasterAddr() string {
	v, err := s.Sentinels[0].Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name)
	if err != nil {
		return ""
	}
	parts, _ := v.([]any)
	if len(parts) != 2 {
		return ""
	}
	return fmt.Sprint(parts[0]) + ":" + fmt.Sprint(parts[1])
}

// Failover asks the first sentinel for a failover (SENTINEL FAILOVER) and
// waits until the replica is the master, as the sentinels and the servers
// themselves report it.
func (s *Sentinel) Failover() {
	s.t.Helper()
	if _, err := s.Sentinels[0].Do("SENTINEL", "FAILOVER", s.Name); err != nil {
		s.t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	WaitFor(s.t, "the sentinels to name the replica master", 30*time.Second, func() bool {
		return s.MasterAddr() == s.Replica.Addr && s.Replica.Info("role") == "master"
	})
	s.Primary, s.Replica = s.Replica, s.Primary
}
