package fleet

import "github.com/breakerbox/breakerbox/core"

// Additive accessors for packages built on an Agent (package fleet/region):
// they read what Join was given and never call the store.

// Registry returns the registry the agent joined to the fleet.
func (a *Agent) Registry() *core.Registry { return a.reg }

// Store returns the store the agent was joined with. The agent never
// closes it; neither should its caller while the agent runs.
func (a *Agent) Store() Store { return a.store }

// Self returns this replica's member record (its ID and region label).
func (a *Agent) Self() Member { return a.self }

// Encode wraps v in the envelope of the current Protocol, tagged with
// kind, as the agent writes every value. Packages that add their own kinds
// to a Store (fleet/region's summaries) encode with it, so that readers
// refuse foreign kinds and protocols alike.
func Encode(kind Kind, v any) ([]byte, error) { return encode(kind, v) }

// Decode reads a value written by Encode into v, refusing a malformed
// value, another protocol version and another kind.
func Decode(kind Kind, b []byte, v any) error { return decode(kind, b, v) }
