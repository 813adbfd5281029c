// Package cache answers calls with the last good value of a key when the
// dependency cannot (stale-if-error), and optionally without calling it at
// all while a value is fresh.
//
// # Model
//
// A [Cache] is built once from a [Config] with [New] and is safe for
// concurrent use. [Do] answers a call for a key:
//
//   - with a value younger than Config.TTL, if a TTL is set (Fresh);
//   - else by running the dependency, once for all the concurrent calls of
//     the key (Called for the one that ran it, Shared for the others), and
//     keeping a successful value;
//   - when that fails, with the last good value if it is no older than
//     Config.MaxStaleness (Stale, the [Answer] carrying its age and the
//     error it replaced); an older value never answers.
//
// The cache is bounded by Config.MaxEntries and Config.MaxBytes (every
// entry counts its key, the Size of its value and [EntryOverhead]); the
// least recently used entry goes first. An optional [Store] (a Redis or
// fleet store, later) backs it: ages, not clock times, cross it.
//
// GetAt and SetAt take the time explicitly, for tests and simulations.
package cache
