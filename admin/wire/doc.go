// Package wire holds the JSON documents of breakerbox's admin API: the
// requests and answers of the endpoints served by package admin, the
// event stream's events, the health documents and the problem details of
// errors. Clients such as breakerctl import it to speak the API without
// importing the server.
//
// Field names are lowerCamel, times RFC 3339, durations Go duration
// strings ("30s", core.Duration), breaker states their names
// ("forced-open", breaker.State). Package admin refers to every type here
// under the same name (admin.GuardStatus is wire.GuardStatus), so code
// written against admin's names keeps working.
//
// The package holds types, constants and the small helpers a client needs
// (GuardPath, Target.Selector); it serves nothing and validates nothing
// beyond what its methods say: the server decides what it accepts.
package wire
