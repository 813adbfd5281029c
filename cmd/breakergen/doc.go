// Breakergen generates, for a Go interface whose methods carry
// //breakerbox:guard annotations, a decorator that implements the interface
// and calls each guarded method through a breakerbox guard (core.Do).
//
// Usage, from a //go:generate line in the interface's package:
//
//	//go:generate go run github.com/breakerbox/breakerbox/cmd/breakergen -type PaymentClient
//
//	breakergen -type Interface [-output file] [-decorator Name] [package directory]
//
// -type names the interface (in the package of the directory, "." by
// default). -output is the file written, by default <type>_guard.go in lower
// case; breakergen overwrites only a file that carries a "Code generated ...
// DO NOT EDIT." line, and reads the previous output as empty while loading
// the package, so a decorator made stale by a change of the interface does
// not stop the next run. -decorator names the generated type, by default
// Guarded<type>.
//
// # Annotations
//
// An annotation is a directive comment on an interface method (the line
// above it, or at the end of its line), with space-separated keys:
//
//	//breakerbox:guard name=payments.charge policy=payments fallback=cached timeout=2s
//
// The keys:
//
//   - name=   the guard's name in the registry (required, unless the
//     interface has prefix=). Each guarded method has its own.
//   - policy= the registry policy the guard uses (core.UsePolicy), instead of
//     the one its name matches.
//   - fallback= a comma-separated list of fallbacks registered with
//     core.WithFallback that the guard's policy must list; they are tried in
//     order when a call fails (see Fallbacks).
//   - timeout= a deadline for each attempt (a Go duration: 2s, 500ms); 0
//     means none, overriding the interface's.
//   - ctx=background: the method has no context.Context parameter; its
//     calls run under context.Background(). Without it, such a method is
//     refused.
//   - skip: the method is not guarded, even when the interface's annotation
//     guards every method.
//
// An annotation on the interface type itself guards every method, those of
// embedded interfaces included, with defaults that a method's own
// annotation overrides key by key:
//
//	//breakerbox:guard prefix=payments. policy=payments timeout=2s
//
// prefix= is required there; a method without name= is named prefix +
// its name in lower camel case (Charge → payments.charge, GetQuote →
// payments.getQuote, URLFor → payments.urlFor). On the interface,
// ctx=background applies to the methods without a context only, and
// timeout= to the methods with one. Without an interface annotation,
// methods without an annotation pass through to the inner value unguarded.
//
// Breakergen refuses, with file:line:column, an unknown key, a key given
// twice, a value that does not parse (timeout=2x, ctx=todo, an empty name),
// two methods with the same guard name, an annotation anywhere but on an
// interface or one of its methods (a struct, a function, an embedded
// interface), a guarded method whose last result is not error, a guarded
// method without a context.Context parameter and without ctx=background,
// and a -type that is not an interface, is generic or has a type set. It
// reports every problem at once, in source order.
//
// # The decorator
//
// For -type PaymentClient, breakergen writes:
//
//   - GuardedPaymentClient, which implements PaymentClient;
//   - NewGuardedPaymentClient(inner PaymentClient, reg *core.Registry)
//     (*GuardedPaymentClient, error), which takes every guard from reg once
//     and checks the fallbacks (see below);
//   - GuardedPaymentClientPolicies() []core.Policy, when an annotation names
//     fallbacks;
//   - GuardedPaymentClient<Method>Result, for each guarded method with more
//     than one result besides its error.
//
// Each guarded method calls core.Do with the method's first
// context.Context parameter (found by type, whatever its position or
// name), and inside it the inner method, passing every argument through.
// The result comes back as the inner method returned it; its error is
// passed through unchanged (errors.Is and errors.As see the inner error), or
// is the guard's *core.RejectedError when the guard refused the call. A
// method returning only an error runs as core.Do[any]; one returning (T,
// error) as core.Do[T]; one returning more values packs them into its
// Result struct, whose fields take the results' names when every result
// has one (R0, R1... otherwise).
//
// Each call goes through the guard reg.ForCall picks for its context: the
// method's own guard, or a tenant's or a variant's guard when the
// registry's policy document has tenants or variants and the context
// selects one (core.WithTenant, core.WithSegment). Without them that costs
// one atomic load. Methods with ctx=background use the method's guard.
//
// timeout= is applied inside the function core.Do runs, with
// context.WithTimeout, so every attempt (retries included) gets its own
// deadline; the caller's deadline and the policy's timeout and
// totalTimeout still apply, the earliest first.
//
// # Fallbacks
//
// A fallback is a function registered on the registry with
// core.WithFallback, and a guard runs the fallbacks its policy lists. So
// fallback= does not call anything itself: it names fallbacks the guard's
// policy must list. GuardedPaymentClientPolicies returns, for each guard
// with fallback=, a policy named as the guard, extending its policy= (if
// any), listing those fallbacks; register them with the fallbacks:
//
//	reg, err := core.NewRegistry(
//		core.WithFallback("cached", cachedReceipt),
//		core.WithPolicies(append(myPolicies, payments.GuardedPaymentClientPolicies()...)...),
//	)
//
// or list the fallbacks in your own policies (a policy document, say).
// NewGuardedPaymentClient fails when a guard's policy lacks one, naming the
// guard, its policy and the fallback, so a missing wire shows at start-up,
// not at the first failure. A fallback returns a value of the method's
// first result type, its Result struct for a method with several, and
// anything (ignored) for a method that returns only an error.
//
// A guard with fallback= uses the policy named as itself (the generated
// one or yours), not policy= directly: the generated policy extends
// policy=.
//
// The worked example is the package
// github.com/breakerbox/breakerbox/cmd/breakergen/example/payments, whose
// tests run the generated decorator against a real registry.
package main
