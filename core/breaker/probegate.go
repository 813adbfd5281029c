package breaker

// ProbeGate is consulted before a half-open breaker admits a probe (or a
// ramp call): when it returns false the call is rejected as if every probe
// slot were taken (ErrOpen, counted in Snapshot.RejectedProbe). Package
// fleet sets one so that a fleet of replicas sends one probe per half-open
// period: only the replica holding the fleet's probe lease admits probes.
//
// A gate must be quick and must not block: it runs on the call's
// goroutine, outside the breaker's lock, only in the half-open slow path.
// The closed and open paths never read it.
type ProbeGate func() bool

// SetProbeGate installs gate, or removes the gate with nil. It is safe to
// call at any time, concurrently with calls.
func (b *Breaker) SetProbeGate(gate ProbeGate) {
	if gate == nil {
		b.gate.Store(nil)
		return
	}
	b.gate.Store(&gate)
}

// probeGateAllows reports whether the gate, if any, admits a probe now. A
// panicking gate admits.
func (b *Breaker) probeGateAllows() (ok bool) {
	g := b.gate.Load()
	if g == nil {
		return true
	}
	defer func() {
		if recover() != nil {
			ok = true
		}
	}()
	return (*g)()
}
