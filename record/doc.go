// Package record writes what a registry's guards did to a bounded
// recording, and reads recordings back, for replay (package replay) and
// for operators (the admin API's /v1/recording and breakerctl record).
//
// A recording is JSON Lines: one Event per line, each file starting with a
// header line (KindHeader) that names the format and the sampling. A
// Recorder attached to a registry records
//
//   - every state change, manual overrides included (KindState; an
//     override carries its actor);
//   - the live policy version and content hash (KindPolicy), when the
//     recorder is attached and whenever Registry.PolicyVersion changes
//     (checked off the call path, about once a second), or when the
//     program calls Recorder.Policy (after a policy.Manager apply, say);
//   - a sample of call outcomes with their latencies (KindCall) and of
//     rejections (KindReject): all of them (the default), or one in N,
//     picked at random (WithSampling);
//   - the number of events dropped because the writer fell behind
//     (KindDrop), so that a reader knows where the recording has gaps.
//
// # Bounds
//
// The recording lives in a directory, in at most WithFiles files of at
// most WithMaxBytes/WithFiles bytes each: when the current file is full
// the recorder starts a new one and deletes the oldest, so the directory
// never holds more than WithMaxBytes bytes of recording. Files are
// readable by their owner only (they name operators and their reasons). Events are
// handed to a background writer through a bounded buffer (WithQueue): a
// hook never blocks and never waits for the disk; when the buffer is full
// the event is dropped and counted (Stats.Dropped, and a KindDrop line).
//
// # Cost on the call path
//
// State changes are rare and always recorded. Call outcomes come from the
// core.Hooks OnDone hook: setting it makes every guard time every call
// (two monotonic clock reads), whatever the sampling, so a sampled-out
// call is not free: it costs those clock reads, the hook call and one
// cheap random number. A sampled call costs a wall-clock read more and a
// short critical section to append the event to the buffer; the writer
// then spends about a microsecond encoding it, off the call path.
// BenchmarkRecorder measures a closed guard's Allow and Done; on the
// project's 2-core shared machine (medians of 5): about 55 ns with no
// recorder, 185 ns recording 1 call in 100, and 270-900 ns recording
// every call, where a tight loop outruns the writer and about two events
// in three are dropped (counted). Record every call only at moderate
// rates; sample 1 in 100 or more under load.
//
// # Reading
//
// Read refuses a recording that is not one: a missing or unknown header,
// a line that is not one JSON object of the known fields, an unknown
// kind, a missing guard, an out-of-range value, a line too long, a last
// line cut short (no final newline), too many events. The error is a
// *LineError naming the line.
package record
