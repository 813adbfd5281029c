// Package natsstore is a fleet.Store on a NATS JetStream key-value bucket,
// through nats.go's jetstream package.
//
// One bucket (WithBucket, default "breakerbox_fleet") holds one fleet. Keys
// are "<kind>.<key>", each part escaped so that any guard or replica name
// (dots, slashes, spaces, wildcards, Unicode) makes one valid token; the
// version counter is the key "_version". Values are Join's, opaque here.
//
// # Server version
//
// Votes, leases and heartbeats expire on the server through per-message TTLs
// (the bucket's LimitMarkerTTL, the stream's AllowMsgTTL), which need
// nats-server 2.11 or later; New fails on an older server. The server counts
// TTLs in whole seconds: natsstore rounds every TTL up to a whole number of
// seconds (a 1.2 s lease lasts 2 s), and the shortest is 1 s.
//
// # Mapping
//
//   - Create is KeyValue.Create with a per-key TTL: it succeeds on an absent,
//     expired or deleted key and refuses a live one.
//   - Put publishes to the key's subject with a TTL header (KeyValue.Put
//     takes no TTL). CompareAndPut reads the key, compares the bytes and
//     publishes with the revision read as the expected last revision and
//     the new TTL: each revision is a message with its own TTL, so the new
//     value's TTL replaces the old one's, with no delete in between.
//   - CompareAndDelete and Delete purge the key (with the expected revision
//     for CompareAndDelete): the marker a purge leaves expires after the
//     bucket's marker TTL, where a delete marker would stay for ever.
//   - NextVersion is a compare-and-set loop on the "_version" key.
//   - List reads the latest value of every key of one kind through a KV
//     watch that stops after the initial values; expired keys are markers,
//     which it drops.
//   - Watch is a KV watch of the whole bucket (headers only, updates only)
//     mapped to hints, Resync first. It returns when the NATS connection is
//     lost (nats.go reconnects by itself), so that Join's next Watch
//     subscribes again and sends Resync.
//
// When a call finds the bucket gone (a memory-stored bucket after a server
// restart, a bucket someone deleted), the store creates it again with the
// configuration New used, at most once a second, and tries the call once
// more; the replicas' next heartbeats and votes fill it again, and the
// version counter starts again at 1.
//
// # No global rate limits
//
// Store does not implement fleet.RateStore. A global rate limit needs one
// clock to count time against (GCRA on Redis's clock in one Lua script);
// NATS KV has no server-side computation and no server clock a client may
// read, and a compare-and-set on a token count would have each replica
// compute refills on its own clock, comparing the wall clocks of two hosts,
// which fleet mode never does. Join therefore runs global limits at their
// local share (the limit divided by the expected replicas) on NATS.
package natsstore
