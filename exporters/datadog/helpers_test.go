package datadog_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/breakerbox/breakerbox/core"
)

// agent is a DogStatsD server for tests: a UDP socket on the loopback
// interface whose datagrams are decoded into metrics, service checks and
// events.
type agent struct {
	conn    net.PacketConn
	client  *statsd.Client
	markers int
}

// newAgent listens on a free loopback port and returns a real statsd client
// sending to it. Both are closed when the test ends.
func newAgent(t *testing.T) *agent {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// No telemetry or container id, so that only what the exporter sends
	// arrives, and arrives as it was sent.
	client, err := statsd.New(conn.LocalAddr().String(), statsd.WithoutTelemetry(), statsd.WithoutOriginDetection())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &agent{conn: conn, client: client}
}

// flush flushes exp and returns everything the agent received from it. It
// sends a marker after the flush and reads up to it, so that it never
// waits for something that may not come: datagrams on the loopback
// interface arrive in the order they were sent.
func (a *agent) flush(t *testing.T, exp interface{ Flush() error }) packets {
	t.Helper()
	if err := exp.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return a.read(t)
}

// read sends a marker and returns what arrived before it.
func (a *agent) read(t *testing.T) packets {
	t.Helper()
	a.markers++
	marker := "test.marker"
	if err := a.client.Gauge(marker, float64(a.markers), nil, 1); err != nil {
		t.Fatal(err)
	}
	if err := a.client.Flush(); err != nil {
		t.Fatal(err)
	}
	var out packets
	buf := make([]byte, 65536)
	// The deadline only keeps a broken test from hanging; no assertion
	// depends on it.
	if err := a.conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		n, _, err := a.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no marker after %d datagrams", len(out.lines))
			}
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(buf[:n]), "\n") {
			if line == "" {
				continue
			}
			p := decode(t, line)
			if p.name == marker {
				if p.value == strconv.Itoa(a.markers) {
					return out
				}
				continue // an earlier read's marker
			}
			out.lines = append(out.lines, p)
		}
	}
}

// packet is one decoded DogStatsD message.
type packet struct {
	kind  string // "c", "g", "d", ... for metrics; "sc" and "e"
	name  string // metric or service check name; event title
	value string // metric value; service check status; event text
	tags  []string
	// fields holds the other fields by prefix ("m" for a service check's
	// message, "t" for an event's alert type, "k", "d", ...).
	fields map[string]string
}

func (p packet) String() string {
	return fmt.Sprintf("%s %s=%s %v %v", p.kind, p.name, p.value, p.tags, p.fields)
}

// decode parses one line of the DogStatsD protocol:
//
//	name:value|type|@rate|#tag1,tag2
//	_sc|name|status|d:ts|h:host|#tags|m:message
//	_e{titlelen,textlen}:title|text|d:ts|k:key|p:prio|t:alert|#tags
func decode(t *testing.T, line string) packet {
	t.Helper()
	p := packet{fields: map[string]string{}}
	var rest []string
	switch {
	case strings.HasPrefix(line, "_sc|"):
		parts := strings.Split(line, "|")
		if len(parts) < 3 {
			t.Fatalf("bad service check %q", line)
		}
		p.kind, p.name, p.value, rest = "sc", parts[1], parts[2], parts[3:]
	case strings.HasPrefix(line, "_e{"):
		var tl, xl int
		head, body, ok := strings.Cut(line, "}:")
		if !ok {
			t.Fatalf("bad event %q", line)
		}
		if _, err := fmt.Sscanf(head, "_e{%d,%d", &tl, &xl); err != nil || len(body) < tl+1+xl {
			t.Fatalf("bad event header %q: %v", line, err)
		}
		p.kind, p.name = "e", body[:tl]
		p.value = strings.ReplaceAll(body[tl+1:tl+1+xl], `\n`, "\n")
		if tail := body[tl+1+xl:]; tail != "" {
			rest = strings.Split(strings.TrimPrefix(tail, "|"), "|")
		}
	default:
		parts := strings.Split(line, "|")
		nv, typ := parts[0], ""
		if len(parts) > 1 {
			typ = parts[1]
		}
		name, value, ok := strings.Cut(nv, ":")
		if !ok || typ == "" {
			t.Fatalf("bad metric %q", line)
		}
		p.kind, p.name, p.value, rest = typ, name, value, parts[2:]
	}
	for _, f := range rest {
		switch {
		case strings.HasPrefix(f, "#"):
			p.tags = strings.Split(f[1:], ",")
		case strings.HasPrefix(f, "@"):
			p.fields["@"] = f[1:]
		default:
			k, v, _ := strings.Cut(f, ":")
			p.fields[k] = v
		}
	}
	return p
}

// packets is what one flush delivered.
type packets struct{ lines []packet }

// find returns the messages of the kind and name that carry every tag.
func (ps packets) find(kind, name string, tags ...string) []packet {
	var out []packet
	for _, p := range ps.lines {
		if p.kind == kind && p.name == name && containsAll(p.tags, tags) {
			out = append(out, p)
		}
	}
	return out
}

// one returns the single message of the kind and name with every tag.
func (ps packets) one(t *testing.T, kind, name string, tags ...string) packet {
	t.Helper()
	got := ps.find(kind, name, tags...)
	if len(got) != 1 {
		t.Fatalf("%d %s %s%v, want 1; received:\n%s", len(got), kind, name, tags, ps)
	}
	return got[0]
}

// count returns the value of the count name with tags, 0 if none was sent
// (client-side aggregation sums counts of one push).
func (ps packets) count(t *testing.T, name string, tags ...string) int {
	t.Helper()
	total := 0
	for _, p := range ps.find("c", name, tags...) {
		n, err := strconv.Atoi(p.value)
		if err != nil {
			t.Fatalf("count %s: %v", p, err)
		}
		total += n
	}
	return total
}

// gauge returns the value of the gauge name with tags.
func (ps packets) gauge(t *testing.T, name string, tags ...string) float64 {
	t.Helper()
	p := ps.one(t, "g", name, tags...)
	v, err := strconv.ParseFloat(p.value, 64)
	if err != nil {
		t.Fatalf("gauge %s: %v", p, err)
	}
	return v
}

func (ps packets) String() string {
	var b strings.Builder
	for _, p := range ps.lines {
		fmt.Fprintln(&b, "\t", p)
	}
	return b.String()
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// recorder is a statsd client that records what it is asked to send, for
// tests that need no wire. Event can be made to block, as a client stuck on
// a full socket would.
type recorder struct {
	statsd.NoOpClient
	mu     sync.Mutex
	counts map[string]int64 // by name and sorted tags
	gauges map[string]float64
	events []*statsd.Event
	checks []*statsd.ServiceCheck
	dists  int
	block  chan struct{} // if not nil, Event waits for it to close
}

func newRecorder() *recorder {
	return &recorder{counts: map[string]int64{}, gauges: map[string]float64{}}
}

func key(name string, tags []string) string {
	return name + "|" + strings.Join(slices.Sorted(slices.Values(tags)), ",")
}

func (r *recorder) Count(name string, value int64, tags []string, _ float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[key(name, tags)] += value
	return nil
}

func (r *recorder) Gauge(name string, value float64, tags []string, _ float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges[key(name, tags)] = value
	return nil
}

func (r *recorder) Distribution(string, float64, []string, float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dists++
	return nil
}

func (r *recorder) Event(e *statsd.Event) error {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) ServiceCheck(sc *statsd.ServiceCheck) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, sc)
	return nil
}

func (r *recorder) count(name string, tags ...string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key(name, tags)]
}

func (r *recorder) numEvents() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) numChecks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.checks)
}

func newRegistry(t testing.TB, opts ...core.Option) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func (r *recorder) gauge(name string, tags ...string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gauges[key(name, tags)]
}
