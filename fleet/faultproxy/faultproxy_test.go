package faultproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every line with the same line until the client
// closes; it stops with the test.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func newProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes a line and reads the echo, within limit.
func roundTrip(c net.Conn, line string, limit time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(limit))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

func TestForwards(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p.Addr())
	for _, line := range []string{"a", "bb", strings.Repeat("x", 100<<10)} {
		// One reader per line is fine: each echo is read whole.
		got, err := roundTrip(c, line, 5*time.Second)
		if err != nil || got != line {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(line), len(got), err)
		}
	}
	if p.Accepted() != 1 {
		t.Fatalf("Accepted = %d, want 1", p.Accepted())
	}
}

func TestDelayHoldsEveryChunk(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p.Addr())
	p.SetDelay(40 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(c, "slow", 5*time.Second); err != nil || got != "slow" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	// Both directions are held: at least two delays (a lower bound, which
	// no scheduler can break).
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Fatalf("round trip took %v, want at least 80ms", el)
	}
	p.SetDelay(0)
	if got, err := roundTrip(c, "fast", 5*time.Second); err != nil || got != "fast" {
		t.Fatalf("echo after delay removed: %q, %v", got, err)
	}
}

func TestDelayShrinkReleasesWaitingChunks(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p.Addr())
	p.SetDelay(time.Hour)
	done := make(chan error, 1)
	go func() {
		got, err := roundTrip(c, "held", 10*time.Second)
		if err == nil && got != "held" {
			err = errors.New("wrong echo " + got)
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the chunk start waiting (not a timing assertion)
	p.SetDelay(0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDropIsABlackHoleUntilLifted(t *testing.T) {
	p := newProxy(t)
	p.SetDrop(true)
	c := dial(t, p.Addr()) // accepted while dropping
	_, err := roundTrip(c, "lost?", 100*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read through a black hole: %v, want a timeout", err)
	}
	p.SetDrop(false)
	// The bytes that waited pass on now.
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "lost?\n" {
		t.Fatalf("after SetDrop(false): %q, %v", got, err)
	}
}

func TestPartitionRefusesAndHealListensAgain(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Partition()
	// The open connection is closed.
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a partitioned connection succeeded")
	}
	// New ones are refused.
	if c2, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c2.Close()
		t.Fatal("dial during a partition succeeded")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial during a partition: %v, want connection refused", err)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	c3 := dial(t, p.Addr())
	if got, err := roundTrip(c3, "after", 5*time.Second); err != nil || got != "after" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

func TestResetAllSendsRST(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.ResetAll()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after ResetAll: %v, want connection reset", err)
	}
	// The proxy still accepts.
	c2 := dial(t, p.Addr())
	if got, err := roundTrip(c2, "y", 5*time.Second); err != nil || got != "y" {
		t.Fatalf("after ResetAll: %q, %v", got, err)
	}
}

func TestTargetDownClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p, err := New(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dial(t, p.Addr())
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read through a proxy to a dead target succeeded")
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("client was left hanging instead of closed")
	}
}

func TestCloseEndsEverything(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.SetDrop(true)
	go func() { _, _ = io.WriteString(c, "stuck\n") }()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Heal after Close: %v, want ErrClosed", err)
	}
	if _, err := New("no-port"); err == nil {
		t.Fatal("New accepted a target without a port")
	}
}

func ExampleProxy() {
	// A server to put faults in front of (here, a listener that echoes).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(c, c)
		}
	}()

	p, err := New(ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer p.Close()
	c, _ := net.Dial("tcp", p.Addr()) // the client dials the proxy
	defer c.Close()

	p.SetDrop(true) // a black hole: nothing passes
	_ = c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	_, _ = io.WriteString(c, "ping\n")
	_, err = c.Read(make([]byte, 5))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		fmt.Println("timed out")
	}
	p.SetDrop(false) // the held bytes pass on
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(line)
	// Output:
	// timed out
	// ping
}
