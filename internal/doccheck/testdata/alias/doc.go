// Package metric shares its name with another library's package, so its
// examples import it as mx. A one-line snippet names both:
//
//	metric.MustRegister(mx.NewCollector(reg))
//
// and one names a function this package lacks:
//
//	mx.NewExporter(reg)
package metric

// NewCollector returns a collector.
func NewCollector(reg any) any { return reg }
