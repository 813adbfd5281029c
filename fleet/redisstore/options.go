package redisstore

import (
	"fmt"
	"strings"
	"time"
)

// Option configures a Store.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// config is what the options set; newConfig fills the defaults.
type config struct {
	prefix       string
	pingEvery    time.Duration
	resyncEvery  time.Duration
	resyncJitter float64
}

// The defaults.
const (
	// DefaultPrefix is the key prefix of a Store made without WithPrefix
	// or WithFleet.
	DefaultPrefix = "breakerbox"
	// DefaultPingEvery is how often a quiet Watch pings the server through
	// its subscription.
	DefaultPingEvery = time.Second
	// DefaultResyncEvery is how often Watch asks for a full reconcile on
	// its own, besides every (re)subscription: never, since fleet.Join
	// runs a full reconcile on its own timer (fleet.WithReconcileEvery,
	// 10 s with jitter by default).
	DefaultResyncEvery = 0
)

func newConfig(opts []Option) (config, error) {
	c := config{
		prefix:       DefaultPrefix,
		pingEvery:    DefaultPingEvery,
		resyncEvery:  DefaultResyncEvery,
		resyncJitter: 0.2,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// WithPrefix sets the key prefix (default "breakerbox"). Every key the
// Store writes carries it as a hash tag, "{prefix}:...", so that all of a
// fleet's keys live in one Redis Cluster slot and one script can touch
// several of them. Two fleets sharing a server need two prefixes (or use
// WithFleet). The prefix must be non-empty and hold no '{' or '}'.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) error {
		if prefix == "" || strings.ContainsAny(prefix, "{}") {
			return fmt.Errorf("redisstore: prefix %q must be non-empty and hold no '{' or '}'", prefix)
		}
		c.prefix = prefix
		return nil
	})
}

// WithFleet names the fleet: the prefix becomes "breakerbox:<name>" (or
// "<prefix>:<name>" after WithPrefix), so the keys are
// "{breakerbox:<name>}:...". Use it when several fleets (services) share
// one server.
func WithFleet(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" || strings.ContainsAny(name, "{}") {
			return fmt.Errorf("redisstore: fleet name %q must be non-empty and hold no '{' or '}'", name)
		}
		c.prefix += ":" + name
		return nil
	})
}

// WithPingEvery sets how often a Watch with no traffic pings the server
// through its subscription (default 1 s). A Watch whose ping goes
// unanswered for two periods returns, so a server that stopped answering
// (SIGSTOP, a black-holed network) ends the watch within about two
// periods, and the next Watch starts with a Resync.
func WithPingEvery(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("redisstore: ping period %v must be positive", d)
		}
		c.pingEvery = d
		return nil
	})
}

// WithResyncEvery makes Watch send a Resync hint every d (±20% jitter,
// so that replicas do not reconcile in step), besides on every
// subscription. Key expiry sends no hint (the Store uses no keyspace
// notifications), so a watcher learns that a vote expired only when it
// lists again: fleet.Join does so on its own timer, so the default is
// zero (off); a watcher without a timer of its own sets it.
func WithResyncEvery(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("redisstore: resync period %v is negative", d)
		}
		c.resyncEvery = d
		return nil
	})
}
