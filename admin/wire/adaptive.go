package wire

// AdaptiveStatus is a guard's adaptive bulkhead limit (core.AdaptivePolicy).
type AdaptiveStatus struct {
	// Algorithm is "gradient2", "vegas" or "aimd".
	Algorithm string `json:"algorithm"`
	// Limit is the current limit; MinLimit and MaxLimit its bounds.
	Limit    int `json:"limit"`
	MinLimit int `json:"minLimit"`
	MaxLimit int `json:"maxLimit"`
}

// ThrottleStatus is a guard's client-side throttle (core.ThrottlePolicy).
type ThrottleStatus struct {
	// Requests and Accepts are the calls counted in the window: sent (or
	// throttled), and accepted by the dependency.
	Requests int64 `json:"requests"`
	Accepts  int64 `json:"accepts"`
	// Probability is the chance, 0 to 1, that the next call is throttled.
	Probability float64 `json:"probability"`
	// Rejected counts the calls throttled since the guard was created.
	Rejected uint64 `json:"rejected"`
}
