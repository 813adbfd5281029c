package datadog

import (
	"time"

	"github.com/breakerbox/breakerbox/metrics"
)

// Defaults of the options.
const (
	// DefaultInterval is how often an Exporter pushes, as DogStatsD's own
	// flush interval.
	DefaultInterval = 10 * time.Second
	// DefaultEventQueue is how many state changes wait to be sent as
	// events before new ones are dropped.
	DefaultEventQueue = 256
	// DefaultServiceCheck is the name of the per-guard service check.
	DefaultServiceCheck = "breakerbox.circuit_breaker.status"
)

// Option configures an Exporter.
type Option interface {
	apply(*config)
}

type config struct {
	interval     time.Duration
	queue        int
	serviceCheck string
	tags         []string
	guardTags    bool
	callDuration bool
	onError      func(error)
	windows      metrics.WindowCounter // WithWindows
	fleet        FleetSource           // WithFleet
	regions      metrics.RegionsSource // WithRegions, in regions.go
}

func newConfig(opts []Option) config {
	c := config{interval: DefaultInterval, queue: DefaultEventQueue, serviceCheck: DefaultServiceCheck}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithInterval sets how often the exporter started by Start pushes;
// DefaultInterval when d is not positive.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.interval = d
		}
	})
}

// WithEventQueue sets how many state changes may wait to be sent as events;
// further ones are dropped (and counted) rather than delay the calls that
// caused them. DefaultEventQueue when n is not positive.
func WithEventQueue(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.queue = n
		}
	})
}

// WithServiceCheckName names the per-guard service check;
// DefaultServiceCheck when name is empty.
func WithServiceCheckName(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.serviceCheck = name
		}
	})
}

// WithTags adds tags ("key:value") to every metric, service check and
// event, besides the guard's. The client's own statsd.WithTags does the
// same for everything the client sends.
func WithTags(tags ...string) Option {
	return optionFunc(func(c *config) {
		for _, t := range tags {
			c.tags = append(c.tags, tagValue(t))
		}
	})
}

// WithGuardTags adds each of a guard's tags (its groups, see core.Policy)
// to its metrics as "group:<tag>". Tags are fixed per guard, so this adds
// no series, only ways to slice them.
func WithGuardTags() Option {
	return optionFunc(func(c *config) { c.guardTags = true })
}

// WithCallDuration sends the duration of every admitted call, in seconds, as
// the distribution MetricCallDuration tagged with its outcome. It is the one
// per-call metric: it makes every guard measure latency (two clock reads)
// and costs a client call per guarded call (the client buffers it; nothing
// waits for the network).
func WithCallDuration() Option {
	return optionFunc(func(c *config) { c.callDuration = true })
}

// WithErrorHandler sets a function called, on the exporter's goroutine,
// with the errors the client returns while the exporter started by Start
// pushes (Flush and Close return theirs). By default they are dropped.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c *config) { c.onError = f })
}

// WithWindows sends, at every push, the count of wc's maintenance windows by
// state (MetricMaintenanceWindows with the tag state:active or
// state:upcoming, and the WithTags tags; no guard tag): give it the
// registry's maintenance.Scheduler.
func WithWindows(wc metrics.WindowCounter) Option {
	return optionFunc(func(c *config) { c.windows = wc })
}
