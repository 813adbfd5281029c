// Package admin is breakerbox's operations API: a versioned JSON API over
// a core.Registry, health endpoints, an audit log and a debug page.
//
// # Mounting
//
// Handler (or New, which reports configuration errors) returns one
// http.Handler to mount under any prefix:
//
//	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(reg,
//		admin.WithTokensFromEnv(),
//		admin.WithAuditSink(fileSink, admin.NewSlogSink(logger)))))
//
// It serves
//
//	GET  /v1/guards[?tag=t&state=s]   every guard: state, counters, window, open-until, tags, policy
//	GET  /v1/guards/{name}            one guard, with its resolved policy (names may contain "/")
//	POST /v1/operations/{op}          open, close (= disable), disable, metrics-only, reset, release
//	POST /v1/prune                    remove guards idle longer than a duration (or a dry run)
//	GET  /v1/snapshot                 every guard's state and manual override, as a document
//	POST /v1/snapshot/restore         re-apply a document's overrides
//	GET  /v1/audit[?after=n&since=t&limit=n]  the audit log, oldest first, paged
//	GET  /health, /ready, /live       health endpoints (also alone: HealthHandler)
//	GET  /debug                       an HTML page of recent transitions and operations
//
// The JSON types of requests and answers are exported (OperationRequest,
// GuardList, AuditPage, ...) for clients such as breakerctl. Field names
// are lowerCamel, times RFC 3339, durations Go strings ("30s").
//
// Operations select guards by name, by tag or all ({"name": "payments"},
// {"tag": "stripe"}, {"all": true}) and need a reason:
//
//	POST /v1/operations/open
//	{"tag": "stripe", "reason": "provider maintenance", "duration": "30m"}
//
// An operation on an unknown guard, or on a tag no guard carries, is a 404:
// the API never creates a guard by naming it, except when a snapshot
// restore re-applies an override to a guard that does not exist yet.
//
// # Security
//
// Tokens are named secrets with read or write access (WithToken,
// WithTokensFromEnv reading BREAKERBOX_ADMIN_TOKENS, format
// "name:access:secret,..."), sent as "Authorization: Bearer <secret>"; the
// name is the actor in the audit log. Secrets are compared in constant time.
// Without any token the API is read-only and open: writes are refused, never
// open. With tokens, every request to the API and the debug page needs one
// (WithOpenRead relaxes that for reads). The debug page also accepts HTTP
// Basic authentication (user: token name, password: secret) so that a
// browser can open it. The health endpoints need no token.
//
// Request bodies are limited (WithMaxBodyBytes, 413 beyond) and decoded
// strictly: Content-Type must be JSON, keys must be spelt exactly, unknown
// or repeated keys and trailing data are refused with a 400 naming the
// field. Every error is an RFC 9457 application/problem+json document
// (Problem) with a machine-readable code.
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
// # Prune dry runs
//
// Registry.Prune decides idleness from the registry's own observations,
// which it does not expose; a dry run applies the same rule to the
// observations of the admin API, which may be fewer, so a dry run can name
// fewer guards than a real prune would.
package admin
