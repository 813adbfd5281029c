package prometheus

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/breakerbox/breakerbox/metrics"
)

// Option configures a Collector.
type Option interface {
	apply(*config)
}

type config struct {
	constLabels prometheus.Labels
	windows     metrics.WindowCounter // WithWindows
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithConstLabels adds labels with fixed values to every series, for
// example {"registry": "payments"} when the guards of several registries
// are exported to one prometheus.Registerer (two Collectors with the same
// labels would collide). Label names guard, policy, outcome, state, reason,
// tags and critical are taken.
func WithConstLabels(labels prometheus.Labels) Option {
	return optionFunc(func(c *config) {
		if c.constLabels == nil {
			c.constLabels = prometheus.Labels{}
		}
		maps.Copy(c.constLabels, labels)
	})
}

// WithWindows exports the count of wc's maintenance windows, by state
// (MetricMaintenanceWindows, metrics.MaintenanceWindows): give it the
// registry's maintenance.Scheduler.
func WithWindows(wc metrics.WindowCounter) Option {
	return optionFunc(func(c *config) { c.windows = wc })
}
