package admin

// newBenchHistory is a history with the default limit, for benchmarks.
func newBenchHistory() *history { return newHistory(0) }

// countedBytes is what h counts it holds.
func countedBytes(h *history) float64 { return float64(h.bytes) }
