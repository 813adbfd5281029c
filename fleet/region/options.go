package region

import (
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	// DefaultPeriod is the period of the region's summary (jittered by up
	// to a fifth either way) and of each replica's full read of the
	// summaries. A summary lives three periods.
	DefaultPeriod = 5 * time.Second
	// DefaultTimeout bounds each store call of an Agent.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultRelayTimeout bounds each store call of a Relay (other
	// regions' stores are far away).
	DefaultRelayTimeout = time.Second
)

// Option configures Join.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	period  time.Duration
	timeout time.Duration
	logger  *slog.Logger
	relay   *Relay
}

func newConfig(opts []Option) config {
	c := config{period: DefaultPeriod, timeout: DefaultTimeout}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.period <= 0 {
		c.period = DefaultPeriod
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WithPeriod sets the summary period (default DefaultPeriod, 5s). Every
// replica of a region should use the same.
func WithPeriod(d time.Duration) Option { return optionFunc(func(c *config) { c.period = d }) }

// WithTimeout bounds each store call (default DefaultTimeout, 100ms).
func WithTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.timeout = d }) }

// WithLogger sets the logger of rare events (leadership changes, global
// opens and releases, malformed summaries). The default discards.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithRelay names the relay running in this process, whose health
// Agent.Health reports (and admin's /health shows) next to the region
// store's. The agent only reads it.
func WithRelay(r *Relay) Option { return optionFunc(func(c *config) { c.relay = r }) }
