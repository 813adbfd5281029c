package bulkhead

// InUse returns the number of slots held by calls, as Snapshot.InUse does,
// without the rest of the snapshot: one atomic load for a bulkhead below
// 256 slots. Adaptive limits read it when a call ends.
func (b *Bulkhead) InUse() int {
	inUse := int64(b.state.Load() & inUseMask)
	if sl := b.slots.Load(); sl != nil {
		for i := range sl.s {
			inUse -= sl.s[i].free.Load()
		}
	}
	return int(max(inUse, 0))
}
