package policy

import (
	"context"
	"fmt"

	"github.com/breakerbox/breakerbox/core"
)

// Sync makes the store's latest version live when it is newer than the
// live one, and reports the version live after the call and whether Sync
// changed it. It is for a store that several processes share (a fleet's
// store, see package fleet; the SQLite store): a version another process
// appended becomes live here at its own number, without a new version.
//
// A version the registry refuses (a document that no longer checks against
// this process's registry, say one naming a fallback it does not have) is
// an error wrapping ErrNotLive; the live version stays as it was. A version
// older than the live one is never applied.
func (m *Manager) Sync(ctx context.Context) (rec Record, changed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	latest, ok, err := m.store.Latest(ctx)
	if err != nil {
		return Record{}, false, fmt.Errorf("policy: reading the latest version: %w", err)
	}
	cur := m.live.Load()
	if !ok || (cur != nil && latest.Version <= cur.Version) {
		if cur == nil {
			return Record{}, false, nil
		}
		return cloneRecord(*cur), false, nil
	}
	if liveV, _ := m.reg.PolicyVersion(); latest.Version <= liveV {
		// The registry runs a version this Manager did not make live
		// (applied to it directly): leave it, as Apply would refuse.
		return Record{}, false, fmt.Errorf("%w: version %d: the registry already runs version %d", ErrNotLive, latest.Version, liveV)
	}
	doc, err := decodeStored(latest)
	if err != nil {
		return Record{}, false, err
	}
	if _, err := m.reg.Apply(doc, core.AtVersion(latest.Version), core.AppliedBy(latest.Actor)); err != nil {
		return Record{}, false, fmt.Errorf("%w: version %d: %w", ErrNotLive, latest.Version, err)
	}
	m.live.Store(&latest)
	return cloneRecord(latest), true, nil
}
