package fleet

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures Join.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is Join's configuration with defaults filled in by newConfig.
type config struct {
	replica    string
	region     string
	version    string
	timeout    time.Duration
	reconcile  time.Duration
	heartbeat  time.Duration
	queue      int
	logger     *slog.Logger
	releaseTTL time.Duration
}

// Defaults of the options.
const (
	// DefaultTimeout bounds each store call.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultReconcileEvery is the period of the full reconcile (jittered
	// by up to a fifth either way).
	DefaultReconcileEvery = 10 * time.Second
	// DefaultHeartbeat is the period of the membership heartbeat and of
	// the refresh of votes; a member record lives three heartbeats.
	DefaultHeartbeat = 2 * time.Second
	// DefaultQueue is the capacity of the publication queue.
	DefaultQueue = 1024
	// DefaultReleaseTTL is how long a released override stays in the
	// store, so that replicas partitioned when it was released still see
	// the release when they heal.
	DefaultReleaseTTL = 24 * time.Hour
	// MaxPeriod is the longest store timeout, heartbeat and reconcile
	// period Join accepts (2^58ns, about 9 years): the TTLs derived from
	// them (three heartbeats; a probe timeout of up to core.MaxDuration
	// plus two store timeouts and a heartbeat) must not overflow.
	MaxPeriod = time.Duration(1 << 58)
)

// check refuses the periods above MaxPeriod, naming the option and its
// value (after defaults are filled in).
func (c *config) check() error {
	for _, p := range []struct {
		option string
		d      time.Duration
	}{{"WithTimeout", c.timeout}, {"WithHeartbeat", c.heartbeat}, {"WithReconcileEvery", c.reconcile}} {
		if p.d > MaxPeriod {
			return fmt.Errorf("fleet: Join: %s: %v is longer than the maximum, MaxPeriod (%v, about 9 years)", p.option, p.d, MaxPeriod)
		}
	}
	return nil
}

func newConfig(opts []Option) config {
	c := config{
		timeout:    DefaultTimeout,
		reconcile:  DefaultReconcileEvery,
		heartbeat:  DefaultHeartbeat,
		queue:      DefaultQueue,
		releaseTTL: DefaultReleaseTTL,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.replica == "" {
		c.replica = defaultReplicaID()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.reconcile <= 0 {
		c.reconcile = DefaultReconcileEvery
	}
	if c.heartbeat <= 0 {
		c.heartbeat = DefaultHeartbeat
	}
	if c.queue <= 0 {
		c.queue = DefaultQueue
	}
	if c.releaseTTL <= 0 {
		c.releaseTTL = DefaultReleaseTTL
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WithReplicaID names this replica in the fleet; it must be unique among
// the replicas sharing a store. The default is the host name and process
// id ("web-7f9c:4242") with a random suffix.
func WithReplicaID(id string) Option { return optionFunc(func(c *config) { c.replica = id }) }

// WithRegion sets this replica's region label, shown in Snapshot.
func WithRegion(region string) Option { return optionFunc(func(c *config) { c.region = region }) }

// WithVersion sets this replica's build version, shown in Snapshot.
func WithVersion(v string) Option { return optionFunc(func(c *config) { c.version = v }) }

// WithTimeout bounds every store call (default DefaultTimeout, 100ms).
func WithTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.timeout = d }) }

// WithReconcileEvery sets the period of the full reconcile, in which the
// agent re-reads members, verdicts, leases and overrides and re-derives
// everything (default DefaultReconcileEvery, 10s, jittered). A replica that
// joins late or heals from a partition catches up within one period.
func WithReconcileEvery(d time.Duration) Option {
	return optionFunc(func(c *config) { c.reconcile = d })
}

// WithHeartbeat sets the period of the membership heartbeat and of the
// refresh of this replica's votes (default DefaultHeartbeat, 2s). A member
// record expires after three heartbeats without a refresh.
func WithHeartbeat(d time.Duration) Option { return optionFunc(func(c *config) { c.heartbeat = d }) }

// WithLogger sets the logger of the agent's rare events (store down and
// up, malformed values). The default discards.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithQueue sets the capacity of the publication queue (default
// DefaultQueue). When it is full, publications are dropped and counted
// (StoreHealth.Dropped); the next reconcile repairs what they would have
// written.
func WithQueue(n int) Option { return optionFunc(func(c *config) { c.queue = n }) }
