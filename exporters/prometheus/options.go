package prometheus

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a Collector.
type Option interface {
	apply(*config)
}

type config struct {
	constLabels prometheus.Labels
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
