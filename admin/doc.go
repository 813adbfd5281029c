// Package admin is breakerbox's operations API: a versioned JSON API over
// a core.Registry, health endpoints, an audit log, a debug page, and the
// live dashboard with its event stream and rollup history.
//
// # Mounting
//
// New returns a *Server, one http.Handler to mount under any prefix, or
// the configuration error (a malformed token, an unreadable audit file);
// Close stops it. From New's example, with the tokens in
// BREAKERBOX_ADMIN_TOKENS and every write audited to a file:
//
//	fileSink, err := admin.NewFileSink(filepath.Join(dir, "audit.jsonl"), admin.FileSinkOptions{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer fileSink.Close()
//	srv, err := admin.New(reg, admin.WithTokensFromEnv(), admin.WithAuditSink(fileSink))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer srv.Close()
//	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
//
// Handler does the same in one expression, for a server that lives as long
// as the process; it answers every request with a 500 when the
// configuration is wrong (see Security model).
//
// It serves
//
//	GET  /v1/guards[?tag=t&state=s]   every guard: state, counters, window, open-until, tags, policy
//	GET  /v1/guards/{name}            one guard, with its resolved policy (name escaped: GuardPath)
//	POST /v1/operations/{op}          open, close (= disable), disable, metrics-only, reset, release
//	POST /v1/prune                    remove guards idle longer than a duration (or a dry run)
//	GET  /v1/snapshot                 every guard's state and manual override, as a document
//	POST /v1/snapshot/restore         re-apply a document's overrides
//	GET  /v1/audit[?after=n&since=t&limit=n]  the audit log, oldest first, paged
//	GET  /v1/events                   the live event stream (text/event-stream)
//	GET  /v1/history[?guard=g&range=1h|24h]  rollups of the guards' counters
//	GET  /v1/whoami                   the token's name and access
//	GET  /v1/policies                 the live policy document and its version (WithPolicyManager)
//	PUT  /v1/policies                 apply a policy document (a dry run needs only a read token)
//	GET  /v1/policies/history, /v1/policies/versions/{v}, /v1/policies/docs
//	POST /v1/policies/rollback        apply an old version again, as a new one
//	GET  /v1/recording                the recording as JSON Lines (WithRecorder); POST ?reason=r adds one (audited)
//	GET  /v1/variants                 A/B and shadow variants against their controls; tenant guards and overflow
//	GET  /v1/dependencies[?guard=g]   the dependency graph (dependsOn) with states and cause chains
//	GET  /v1/maintenance              maintenance windows, active and upcoming (WithMaintenance)
//	POST /v1/maintenance              add a window; DELETE /v1/maintenance/{name}?reason=r deletes one
//	GET  /v1/machines[?guard=g]       custom state machines: states, transitions, current state, Mermaid and DOT
//	POST /v1/machines/{guard}/state   move a guard to a custom state ({"state", "reason"}; audited)
//	GET  /v1/fleet                    this replica's view of its fleet (WithFleet; 404 fleet_off without)
//	POST /v1/fleet/actions            an operator action for every replica of the fleet (audited once)
//	GET  /v1/regions                  every region side by side (WithRegions; 404 regions_off without)
//	GET  /v1/regions/{region}/guards  one region's summary; with ?guard=NAME, is NAME open there
//	GET  /v1/quotas                   the global limits this process shares (WithQuotas; 404 quotas_off without)
//	GET  /health, /ready, /live       health endpoints (also alone: HealthHandler)
//	GET  /debug                       an HTML page of recent transitions and operations
//	GET  /                            the dashboard (and its files under /assets/)
//
// The JSON types of requests and answers live in package
// github.com/breakerbox/breakerbox/admin/wire, which clients such as
// breakerctl import without the server; this package refers to each under
// the same name (OperationRequest, GuardList, AuditPage, ... are aliases of
// wire's). Field names are lowerCamel, times RFC 3339, durations Go
// strings ("30s").
//
// Operations select guards by name, by tag or all ({"name": "payments"},
// {"tag": "stripe"}, {"all": true}) and need a reason:
//
//	POST /v1/operations/open
//	{"tag": "stripe", "reason": "provider maintenance", "duration": "30m"}
//
// An operation on an unknown guard, or on a tag no guard carries, is a 404:
// the API never creates a guard by naming it, except when a snapshot
// restore re-applies an override to a guard that does not exist yet (with
// the policy its name resolves to; see Security model).
//
// An open lasts at most core.MaxDuration (about 146 years): a longer duration, or
// an until time further away (in an operation or a snapshot's override), is
// refused with a 400 naming the field and the value, so that no open-until
// can overflow into the past.
//
// # Guard names in paths
//
// Guard names may hold any character, "/" included: gRPC guards are named
// "/pkg.Svc/Method", route guards "GET /users/{id}". In GET /v1/guards/{name}
// everything after "/v1/guards/" is the name, percent-escaped or not: the
// handler neither cleans nor redirects it, so /v1/guards//pkg.Svc/Method and
// /v1/guards/%2Fpkg.Svc%2FMethod both reach the guard "/pkg.Svc/Method",
// and /v1/guards/a/../b the guard "a/../b". A router in front of the
// handler may clean the first form (http.ServeMux redirects it to
// /v1/guards/pkg.Svc/Method, which names another guard), so clients send the
// name escaped as one segment, as GuardPath builds it and breakerctl does;
// problems give their instance in the escaped form too. Operations name
// their guards in the request body, which needs no escaping.
//
// # Security model
//
// Who may read what. Tokens are named secrets with read or write access
// (WithToken, WithTokens, or WithTokensFromEnv reading
// BREAKERBOX_ADMIN_TOKENS, format "name:access:secret,..."), sent as
// "Authorization: Bearer <secret>"; the name is the actor in the audit
// log. Secrets are kept as SHA-256 digests and a presented token is
// compared with every one in constant time.
//
//   - Without any token the API is read-only and open to anyone: writes are
//     refused (403), never open.
//   - With tokens, every request to the API and the debug page needs one;
//     WithOpenRead lets requests without a token read. A read token reads
//     everything the API shows (guards, snapshot, audit log, event stream,
//     history, debug page) and may ask for a prune dry run; a write token
//     may also operate, prune and restore.
//   - The health endpoints and the dashboard's page and files, which hold
//     no data, need no token (see Resources and exposure below).
//   - Basic credentials (user: the token's name, password: its secret) are
//     accepted by /debug only, so that a browser can open it. Everywhere
//     else they are refused (401): a browser that logged in to /debug sends
//     them to the whole origin by itself, so they would let another site's
//     page act with the operator's token.
//
// What is refused, before anything changes:
//
//   - Cross-origin writes. A request other than GET, HEAD and OPTIONS whose
//     Sec-Fetch-Site header says anything but same-origin or none, or,
//     without that header, whose Origin is not the request's host, is
//     refused with a 403 (code cross_origin) naming the header, before its
//     token is looked at (net/http's CrossOriginProtection decides).
//     Requests with neither header (breakerctl, curl, services) and pages
//     of the API's own origin (the dashboard) pass; WithTrustedOrigins
//     admits pages served from other origins. Besides, a write must carry
//     a JSON body (a cross-site form cannot send one without a preflight)
//     and a Bearer token, which browsers never send by themselves.
//   - Framing and script on the debug page: it sends
//     Content-Security-Policy "default-src 'none'; frame-ancestors 'none'"
//     (with inline style only) and X-Frame-Options DENY.
//   - Bodies larger than WithMaxBodyBytes (413), not valid UTF-8 (400
//     naming the byte: encoding/json would silently replace such bytes),
//     not JSON, or not strictly of the expected shape (see below).
//   - Names, tags and reasons that are not printable text on one line:
//     control characters (newlines and tabs included), Unicode line and
//     paragraph separators and bidirectional-formatting characters could
//     forge or disguise lines of the audit log, a terminal or a page, and
//     are refused with a 400 naming the field and the character. A reason
//     is required and at most MaxReasonLength bytes.
//   - An open longer than core.MaxDuration (see Mounting).
//   - A snapshot restore that would give a guard a policy of the snapshot's
//     choosing. A restore acts on a guard only if the snapshot's policy for
//     it is empty or the policy the name resolves to in the registry
//     (core.Registry.PolicyFor: an existing guard's own policy, or the one
//     a new guard of that name gets); otherwise the whole restore is
//     refused with a 400 naming the guard, the snapshot's policy and the
//     resolved one. A restore creates a guard only to re-apply an override
//     to a name that has none yet, with the resolved policy and the
//     snapshot's tags besides the policy's; it creates at most
//     WithMaxRestoreCreates guards (default DefaultMaxRestoreCreates), and
//     one that would create more is refused with a 400 (code
//     too_many_guards).
//
// What is logged. Every write is an audit record (see Audit log) naming the
// token that authorised it; a restore's record also lists the guards it
// created, with their policy and tags (AuditRecord.Created). Secrets are
// never logged nor sent to clients. A configuration error is returned by
// New; Handler answers every request, health probes included, with a 500
// that says only that the handler is misconfigured, and logs the error once
// to slog.Default. Configuration errors name a token by where it was
// configured ("BREAKERBOX_ADMIN_TOKENS: entry 2", "token 1 (WithToken)")
// and by its name only when the name is shorter than MinSecretLength; they
// never show a secret, nor any field of a malformed entry, since in a
// misordered entry any field may hold the secret.
//
// Request bodies are decoded strictly: Content-Type must be JSON, keys must
// be spelt exactly, unknown or repeated keys and trailing data are refused
// with a 400 naming the field. Every error is an RFC 9457
// application/problem+json document (Problem) with a machine-readable code.
//
// # Resources and exposure
//
// What each surface lets whom read, and what one request may cost:
//
//   - /health, /ready, /live: anyone, no token. A request reads the
//     critical guards and at most MaxHealthChecks (100) others, never
//     every guard: the handler keeps the list of critical guards and of
//     the guards it lists, refreshed off the request path when older than
//     5 seconds (by a request itself only when older than a minute, or,
//     for a Server, when a critical guard it does not know yet changes
//     state). The critical guards' states are read at every request, so
//     readiness is current. The answers name guards (at most 10 in an
//     output) and their states and automatic reasons, never an operator's
//     reason or name: a manual state reads "set by an operator".
//     WithHealthSummary leaves out every name and check: a status and
//     counts only. At 50,000 guards (5 critical) a /ready request costs
//     about 2 µs and 1 KB allocated, a /health request listing 100 checks
//     a few hundred µs and under 100 KB, where each used to snapshot
//     every guard (0.6 to 0.9 s and 25 to 73 MB).
//   - The dashboard's page and files: anyone; they hold no data.
//   - The JSON API, the event stream and /debug: a token (read for reads,
//     write for writes), or anyone for reads with WithOpenRead, or anyone
//     read-only when no token is configured. These answers cost in
//     proportion to the guards they list; they are for operators.
//   - Event streams: at most 100 at once and 10 per identity (see Event
//     stream), each write bounded by a deadline.
//   - History: at most 64 MiB in all (see History and the sampler).
//
// A request refused by one of these limits is answered with a problem
// naming the limit, before it costs a snapshot of the registry.
//
// # Audit log
//
// Every write (operations, prune, restore) is appended to the audit log as
// an AuditRecord: sequence number, time, actor, operation, target, reason,
// parameters, and every selected guard's state before and after. Writes are
// applied one at a time, so records are in the order the changes were
// made. Sinks are pluggable (AuditSink): FileSink writes JSON lines, synced,
// rotated by size; SlogSink logs through log/slog. A record a sink fails to
// take fails the operation with a 503: the change is rolled back where
// that is possible (manual states, open-until; not a cleared window or a
// prune), and the failure is logged.
//
// A prune dry run names exactly the guards a prune would remove at that
// moment (Registry.IdleAt).
//
// # Dashboard
//
// GET / serves the dashboard: one HTML page with its script and style,
// embedded in the binary (no build step, no CDN, nothing loaded from
// elsewhere; a strict Content-Security-Policy says so). It shows every
// guard as a tile: state in colour and in words, call rate, failure and
// slow-call rate against the breaker's thresholds, rejections per second by
// reason, bulkhead occupancy, rate-limit headroom, the countdown to an open
// breaker's probe, and a sparkline of the last hour. Tiles can be filtered
// by name, tag, state or policy, sorted with problems first, shown compact,
// or grouped by tag or policy. A guard's detail view has a larger chart
// (the last hour or day), its recent transitions and the operations of the
// audit log that touched it. It is keyboard-usable, labelled for screen
// readers, and has a light and a dark scheme of sufficient contrast; 200
// guards re-render in a few tens of milliseconds.
//
// The page and its files are public: they hold no data. The data comes from
// the API with the token the page asks for when it needs one (kept in the
// tab's sessionStorage and sent in the Authorization header, never in a
// URL). With a write token the page shows controls (force open, force
// closed, reset, release, for a guard or a tag), each asking for a reason
// and a confirmation; without one it shows none. Operations from the page
// are audited as any other, with the token's name as the actor.
//
// Below the guards, a Variants panel (shown while the policy document has
// variants or tenant guards) compares each variant with its control (calls,
// failure rate, rejections, trips; a shadow variant's are would-be ones)
// and shows the tenant guards against their bound and the calls that
// overflowed it. A Dependencies panel draws the dependency graph (shown
// while some guard has dependsOn) and names each cause chain, and a
// Maintenance windows panel lists the active and upcoming windows.
//
// # Event stream
//
// GET /v1/events is a server-sent event stream, read with the same tokens
// as the rest of the API. Each connection starts with a "hello"
// (HelloEvent: every guard's GuardInfo and GuardLive), then carries
// "rates" (RatesEvent) every push interval (WithPushInterval, default 2s),
// "state" (StateEvent) as soon as a breaker changes state, "guards"
// (GuardsEvent) when guards appear or are pruned, "rollup" (RollupEvent)
// when a 10-second rollup is complete, "machine" (MachineEvent) when a
// guard's custom state changes, and "audit" (an AuditRecord) after every
// operation. A client that falls too far behind is disconnected;
// since every connection starts with a full hello, reconnecting is all a
// client has to do, and the dashboard does it by itself. A guard's live
// figures and state events say who set a manual state (manualBy: "policy"
// for the mode a guard's policy sets, else the operator's token name).
//
// With WithTraceLinks, a transition caused by a call carries that call's
// trace id (in state events and the history), the rates event carries the
// trace id of a call each guard rejected since the last one, and the hello
// carries the APM's URL template, from which the dashboard links to the
// traces (templates for Jaeger, Grafana Tempo, Datadog and Honeycomb in
// docs/apm.md; otelbreaker.TraceID reads OpenTelemetry trace ids).
//
// Streams are limited (WithStreamLimits): at most 100 open at once (503
// beyond) and 10 per token, readers without a token counting as one
// identity (429 beyond), both refusals problems with code
// "too_many_streams" and a Retry-After. A stream's slot is taken where the
// limits are checked, so clients connecting all at once cannot pass them
// together. Every write to a stream, from its headers and hello on, has a
// deadline (10s by default): a client that stops reading is disconnected
// once the connection's buffers are full and a write has waited that long,
// and its slot is freed.
//
// # History and the sampler
//
// The server keeps, in memory, rollups of every guard's counters: calls,
// successes, failures, slow calls and rejections by reason, plus the most
// severe state seen; ShortRollup (10s) rollups for ShortHistory (an hour)
// and LongRollup (1m) rollups for LongHistory (a day). GET /v1/history
// serves them, with the history's memory figures (HistoryStats).
//
// Memory is bounded per guard and in all. Per guard: 36 bytes a rollup, at
// most 1,802 rollups (about 70 KiB on the heap with a day of activity),
// and at most 32 transitions; rollups with nothing in them are not stored,
// rollups older than both windows are let go, and a pruned guard's history
// goes with it. In all: WithHistoryLimit (DefaultHistoryLimit, 64 MiB, a
// full day of about 900 busy guards) counts every byte the history holds,
// about 260 bytes per guard of fixed cost included. When an observation
// leaves the history over its limit, guards' histories are dropped, those
// of the guards without calls or rejections for longest first (the
// largest first among equally idle ones), until it is under 7/8 of the
// limit; a dropped history records nothing (and reports "dropped") until
// the history is under 3/4 of the limit again, and while busy guards wait
// like this, the histories of guards idle for an hour are dropped to make
// room for them. HistoryStats count the histories dropped and the rollups
// lost, and the dashboard says when a guard's chart was not kept. The
// registry hook that records a transition only queues it (at most 4,096
// between two observations), so a call that changes a breaker's state
// never waits for the history; a transition that would take the history
// over its limit is not kept for the detail view.
//
// The history is in memory, so a restart starts it afresh, unless
// WithHistoryStore keeps it in a HistoryStore (the module
// admin/historystore/sqlitestore keeps it in SQLite): New loads the last
// day's rollups from it, and every complete rollup is written to it by a
// goroutine of the server's, off the path of calls and requests; a store
// that is slow or fails is logged and counted (HistoryStats.Store), never
// waited for. See docs/history.md.
//
// One goroutine, the sampler, owned by the Server, observes the registry
// at every rollup boundary and, while streams are open, at every push
// interval. It starts with the Server's first request, or with Start;
// Close stops it, ends the streams and removes the Server's hooks from the
// registry. A Server made with Handler is never closed: use New for one
// you need to stop. Server.SampleAt observes at an explicit time, to build
// a history in tests and simulations. The Server adds to the registry an
// OnStateChange hook, which only queues the transition, and, with
// WithTraceLinks, an OnReject hook, which returns at once while no event
// stream is open and otherwise reads at most one trace id per guard per
// push interval; admitted calls cost nothing more.
package admin
