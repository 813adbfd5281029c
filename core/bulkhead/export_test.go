package bulkhead

// NewStriped returns a bulkhead that keeps free slots in stripes from limit
// least on (instead of stripeMinimum), so that tests can hold small striped
// bulkheads against the same rules as plain ones.
func NewStriped(cfg Config, least int) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newBulkhead(cfg, int64(least)), nil
}

// Striped reports whether b keeps free slots in stripes.
func (b *Bulkhead) Striped() bool { return b.batch.Load() > 0 }
