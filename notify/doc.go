// Package notify sends notifications when guards change state: signed
// webhooks, Slack-compatible incoming webhooks, email over SMTP and slog
// records, selected by rules and throttled so that a flapping breaker
// cannot flood anyone. It uses the standard library only.
//
// # Pipeline
//
//	registry hook ──> inbox ──> dispatcher (rules, incidents) ──> channel queue ──> worker ──> destination
//	  (caller)      (bounded)        (one goroutine)            (bounded, per channel)  (rate limit, retries)
//
// New subscribes a Notifier to a registry's state changes. The hook runs on
// the goroutine of the call that changed the state, so it only copies the
// change into the inbox: no lock, no allocation, no blocking. When the inbox
// is full (WithInboxSize, default 1024 changes) the change is dropped and
// counted (Stats.Dropped); the dispatcher then reads the guards' present
// states so that an incident whose ending was dropped still resolves.
//
// The dispatcher (started by Start or Run) applies the rules and hands each
// event to its channels' queues. Each channel has its own queue (QueueSize,
// default 256 events) and one worker, which delivers events one at a time,
// in order, waiting for the channel's rate limit (RateLimit, default 30 a
// minute with bursts of 10) and retrying failures with jittered exponential
// backoff (Retries, default 5 attempts from 1s up to 1m apart, the
// schedule of package core/retry, honouring Retry-After). When a queue is
// full, its oldest event is dropped for the new one (ChannelStats.Dropped):
// the newer event describes the guard's present state. Every event a
// channel does not deliver (retries spent, a permanent error, dropped from
// the queue, or abandoned by Close) goes to the dead-letter sink
// (WithDeadLetters; JSONLines writes replayable records). A slow or dead
// destination thus costs its own queue and nothing else, and never the
// guarded calls.
//
// # Rules and incidents
//
// A Rule selects guards (name patterns, tags), kinds of event (opened,
// half-open, forced-open, closed, disabled, metrics-only, resolved; by
// default opened, forced-open and resolved) and channels. A guard is in an
// incident while its breaker rejects calls (open, half-open, forced-open).
// Per rule and incident:
//
//   - MinOpen holds the first event until the incident has lasted that
//     long; an incident that ends sooner sends nothing at all.
//   - De-duplication sends each kind at most once per DedupWindow (default
//     1h): a breaker whose probes keep failing reopens many times but is
//     announced once, then reminded hourly.
//   - Resolved is sent when an incident that was notified ends, with its
//     duration.
//
// Events of one guard reach each channel in order; Event.Sequence
// increases with every event, and Event.ID is the same on every channel and
// every attempt, for receivers to de-duplicate redeliveries.
//
// # Webhook payload, version 1
//
// Webhook posts the JSON form of Event (SchemaVersion 1):
//
//	{
//	  "version": 1,                          // SchemaVersion
//	  "id": "9f1c…",                         // event id, stable across retries
//	  "type": "opened",                      // opened|half-open|forced-open|closed|disabled|metrics-only|resolved
//	  "sequence": 42,                        // increasing per notifier
//	  "rule": "payments-oncall",
//	  "guard": "payments.charge",
//	  "tags": ["stripe"],                    // omitted when none
//	  "from": "closed", "to": "open",        // breaker states
//	  "reason": "failure rate 62.5% >= 50% over 40 calls",
//	  "actor": "alice",                      // manual changes only
//	  "at": "2026-01-02T03:04:05.123Z",      // when the state changed
//	  "failureRate": 62.5,                   // when a failure-rate trip
//	  "openUntil": "2026-01-02T03:04:35Z",   // when an open breaker probes
//	  "incidentId": "4b0e…",                 // shared by the incident's events
//	  "incidentStart": "2026-01-02T03:04:05.123Z",
//	  "incidentDuration": "4m10s",           // resolved only
//	  "suppressed": 3,                       // changes not sent since the last event
//	  "dashboardUrl": "https://ops.example.com/bbx/?guard=payments.charge"
//	}
//
// Optional fields are omitted when unknown. Within version 1 fields may be
// added, never removed or changed in meaning; receivers must ignore fields
// they do not know and should check "version".
//
// Each request carries the headers Breakerbox-Event-Id, Breakerbox-Event-Type
// and
//
//	Breakerbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// signed afresh for every attempt. Receivers check it with Verify (or
// VerifyRequest), which compares in constant time and refuses timestamps
// outside a tolerance (default 5 minutes); within it, receivers
// de-duplicate by the event id (see "Security model"). 2xx is success;
// 408, 425, 429 and 5xx are retried; 3xx (a redirect not followed) and
// other statuses are permanent.
//
// # Security model
//
// What is signed, and how. A webhook's body, exactly as sent, and the
// time of sending: v1 is hex(HMAC-SHA256(secret, "<unix seconds>.<body>")).
// The headers are not signed, EventIDHeader and EventTypeHeader included;
// they repeat fields of the body for routing only. Each attempt is signed
// afresh, so a late retry still falls inside the receiver's window.
//
// What the receiver must do. Verify (or VerifyRequest) with the shared
// secret, which compares in constant time and refuses a timestamp more
// than the tolerance (default 5 minutes) away from its clock. Within the
// tolerance a captured request verifies again when replayed, and a retry
// of a delivery that did arrive carries the same event: de-duplicate by the
// id in the verified body (Event.ID), remembering ids for twice the
// tolerance. Accept only the "version" it knows. To rotate the secret, try
// the new one, then the old.
//
// What is refused. Verify, VerifyAt and VerifyRequest refuse an empty
// secret (ErrEmptySecret): anyone can compute an HMAC under an empty key.
// New refuses a Webhook without Secret, naming the field, and Send of such
// a Webhook fails permanently without sending. New refuses delivery URLs
// that are not absolute http or https URLs.
//
// Redirects. Webhook and Slack follow no redirect by default: the signed
// body, the custom headers and the Slack URL (its path is its secret, and
// net/http would pass it on in Referer) go to the configured URL and
// nowhere else, whatever the Client's own CheckRedirect says. A 3xx answer
// fails the delivery permanently, reported by its status only. With
// Redirects set to SameOriginRedirects, a 307 or 308 to the same scheme,
// host and port is followed (at most MaxRedirects); a redirect to any other
// origin, or a 301, 302 or 303 (which would resend the POST as a GET
// without the event), is still not. An answer's body is read into an error
// (HTTPError.Body, at most 512 bytes) only when it came from the
// configured origin and is not a redirect: nothing a foreign host says
// reaches an error or a log.
//
// Dial guard. Where the URLs come from people who should not reach the
// internal network (tenants, a configuration API), give the channels a
// client from PublicClient, or put RefuseNonPublic in the Control field of
// your own net.Dialer. It checks every connection's address after name
// resolution, so DNS rebinding cannot get round it, and refuses loopback,
// private, link-local (cloud metadata), unspecified, multicast and other
// special ranges, IPv4 inside IPv6 forms included; the delivery fails
// permanently with ErrRefusedAddress. It is off by default, because many
// deployments post to internal receivers on purpose. A proxy hides the
// destination from the guard: PublicClient uses none.
//
// What is logged, and what never is. Delivery URLs appear in errors and
// logs as scheme://host only: Send's errors (the *url.Error of net/http,
// which quotes the whole URL, is replaced by "notify: POST scheme://host:
// <cause>"), New's validation errors, HTTPError bodies (URLs in them
// reduced; the URL's own path, query and user info, when 4 bytes or
// longer, blanked where they are echoed) and every dead
// letter's Err, whatever the channel (the notifier reduces every URL in the
// message). The default dead-letter log records the channel name, event
// id, type, guard, attempts and that error; JSONLines records the event
// and the error. Secrets, signatures, custom headers, SMTP passwords and
// the paths, queries and user info of delivery URLs are never logged or
// put in errors. The event itself is logged and sent as it is: it holds
// the guard, reason, actor and Event.DashboardURL, so that template must
// not carry a secret.
//
// # Other channels
//
// Slack posts a readable message (state, reason, failure rate, link to the
// dashboard) in Slack's incoming-webhook format, which Mattermost,
// Rocket.Chat and Discord's /slack endpoint accept too; its redirects,
// errors and dial guard are as for Webhook. Email sends plain
// text over SMTP with STARTTLS (required unless AllowPlaintext) or implicit
// TLS, and PLAIN authentication. Slog writes a log record. Any type with
// Send(ctx, *Event) error is a Channel.
package notify
