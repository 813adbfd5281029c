// Package embedded runs a nats-server with JetStream inside the process, on
// a loopback port, for natsstore's tests and the fleet demo: nothing to
// install. It is not meant for production, where the fleet uses a NATS
// deployment of its own (nats-server 2.11 or later).
package embedded

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded nats-server with JetStream. Its methods are safe for
// concurrent use.
type Server struct {
	dir string

	mu   sync.Mutex
	port int // the port of the first start, kept by Restart
	srv  *server.Server
}

// Start runs a nats-server with JetStream on 127.0.0.1 and a free port,
// storing JetStream data under dir (which must exist and which the caller
// removes). It returns once the server accepts connections.
func Start(dir string) (*Server, error) {
	if dir == "" {
		return nil, errors.New("embedded: Start: dir is empty (JetStream needs a store directory)")
	}
	s := &Server{dir: dir}
	if err := s.start(server.RANDOM_PORT); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start(port int) error {
	srv, err := server.NewServer(&server.Options{
		ServerName: "breakerbox-embedded",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   s.dir,
		NoLog:      true,
		NoSigs:     true,
		// Small limits for a test or demo process.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  256 << 20,
	})
	if err != nil {
		return fmt.Errorf("embedded: nats-server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("embedded: nats-server on port %d not ready after 10s", port)
	}
	s.srv = srv
	if addr, ok := srv.Addr().(*net.TCPAddr); ok {
		s.port = addr.Port
	}
	return nil
}

// URL is the server's client URL, such as "nats://127.0.0.1:43127". It
// stays the same across Restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", s.port)
}

// Shutdown stops the server, closing its client connections. Shutting down
// a stopped server does nothing.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server if it runs and starts it again on the same port
// and store directory, so that clients reconnect to the same URL and find
// the file-stored streams they had.
func (s *Server) Restart() error {
	s.Shutdown()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.start(s.port)
}
