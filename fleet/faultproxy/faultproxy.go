// Package faultproxy is a small TCP proxy for tests that puts faults
// between a client and a server: latency, a black hole, a partition and
// connection resets. The fleet backends' tests put it between a Store and
// its server (redis-server, nats-server) to prove that every call returns
// within its deadline and that the store recovers when the fault ends.
//
// It is a test tool: it listens on loopback only and is built for a
// handful of connections, not for throughput. It imports only the standard
// library, so every module of the repository can use it.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by a Proxy used after Close.
var ErrClosed = errors.New("faultproxy: closed")

// Proxy forwards TCP connections from Addr to a target address, with
// faults switched on and off by its methods. Its zero value is not usable;
// New makes one. It is safe for concurrent use.
//
// Without faults it forwards bytes both ways as they come. The faults:
//
//   - SetDelay holds every chunk of bytes for a duration before passing it
//     on, in both directions (a slow network or a slow server).
//   - SetDrop(true) turns it into a black hole: it still accepts
//     connections, but passes no byte either way; bytes in flight wait, as
//     TCP's retransmissions would, until SetDrop(false).
//   - Partition closes every connection and refuses new ones (the listener
//     is closed, so a dial gets "connection refused") until Heal.
//   - ResetAll resets every open connection (TCP RST on both sides), as a
//     server crash or a middlebox would; new connections are accepted.
type Proxy struct {
	target string
	addr   string // the listening address, kept across Partition/Heal

	// Guarded by mu.
	mu       sync.Mutex
	ln       net.Listener // nil while partitioned
	links    map[*link]struct{}
	delay    time.Duration
	open     chan struct{} // closed while not dropping
	changed  chan struct{} // closed and replaced whenever delay changes
	closed   bool
	accepted int

	wg sync.WaitGroup // accept loops and pumps
}

// link is one proxied connection: the client's side and the target's.
type link struct {
	client, server net.Conn
	done           chan struct{}
	once           sync.Once
}

// close closes both sides once; with reset, as a TCP RST.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		for _, c := range []net.Conn{l.client, l.server} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && reset {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
		close(l.done)
	})
}

// New starts a proxy on a free loopback port that forwards to target
// (host:port).
func New(target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{
		target:  target,
		addr:    ln.Addr().String(),
		ln:      ln,
		links:   make(map[*link]struct{}),
		open:    open,
		changed: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// Addr is the proxy's address (host:port); clients dial it instead of the
// target. It stays the same across Partition and Heal.
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted counts the connections the proxy has accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// SetDelay holds every chunk of bytes for d before passing it on, in both
// directions; zero removes the delay. Chunks already waiting keep the
// delay they started with, unless it shrinks.
func (p *Proxy) SetDelay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
	close(p.changed)
	p.changed = make(chan struct{})
}

// SetDrop switches the black hole on or off. While it is on, connections
// are accepted but no byte passes either way; when it goes off, the bytes
// that waited pass on.
func (p *Proxy) SetDrop(drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open: // not dropping
		if drop {
			p.open = make(chan struct{})
		}
	default:
		if !drop {
			close(p.open)
		}
	}
}

// Partition closes every connection and refuses new ones until Heal.
func (p *Proxy) Partition() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	links := p.takeLinks()
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, l := range links {
		l.close(false)
	}
}

// Heal ends a partition: the proxy listens on its address again. It is a
// no-op when the proxy is not partitioned.
func (p *Proxy) Heal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

// ResetAll resets every open connection: both the client and the target
// see a TCP RST. New connections are accepted as before.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	links := p.takeLinks()
	p.mu.Unlock()
	for _, l := range links {
		l.close(true)
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ln := p.ln
	p.ln = nil
	links := p.takeLinks()
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, l := range links {
		l.close(false)
	}
	p.wg.Wait()
	return nil
}

// takeLinks empties the link set and returns what it held. p.mu is held.
func (p *Proxy) takeLinks() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	clear(p.links)
	return links
}

// accept serves one listener until it is closed.
func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve dials the target for one client connection and pumps both ways.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	l := &link{client: c, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || p.ln == nil {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.accepted++
	p.links[l] = struct{}{}
	p.mu.Unlock()

	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	p.mu.Lock()
	_, live := p.links[l]
	if err == nil {
		l.server = s
	}
	p.mu.Unlock()
	if err != nil || !live {
		if s != nil && !live {
			_ = s.Close()
		}
		p.drop(l, false)
		return
	}
	p.wg.Add(2)
	go p.pump(l, c, s)
	go p.pump(l, s, c)
}

// drop forgets a link and closes it.
func (p *Proxy) drop(l *link, reset bool) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	l.close(reset)
}

// pump copies src to dst, chunk by chunk, applying the faults in force.
func (p *Proxy) pump(l *link, src, dst net.Conn) {
	defer p.wg.Done()
	defer p.drop(l, false)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.hold(l, time.Now()) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Pass the half-close on, so the other side sees EOF too.
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					<-l.done
				}
			}
			return
		}
	}
}

// hold waits until a chunk read at t may pass: its delay is over and the
// black hole is off. It reports false when the link closed meanwhile.
func (p *Proxy) hold(l *link, t time.Time) bool {
	for {
		p.mu.Lock()
		delay, open, changed := p.delay, p.open, p.changed
		p.mu.Unlock()
		if wait := time.Until(t.Add(delay)); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-changed:
				timer.Stop()
				continue
			case <-l.done:
				timer.Stop()
				return false
			}
		}
		select {
		case <-open:
			return true
		case <-changed:
			continue
		case <-l.done:
			return false
		default:
		}
		// Dropping: wait for the black hole to end (or a delay change,
		// which re-reads both).
		p.mu.Lock()
		open = p.open
		p.mu.Unlock()
		select {
		case <-open:
			return true
		case <-l.done:
			return false
		}
	}
}
