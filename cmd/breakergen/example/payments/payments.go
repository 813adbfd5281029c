// Package payments is breakergen's worked example: the PaymentClient
// interface carries breakerbox:guard annotations, and go generate writes
// GuardedPaymentClient (paymentclient_guard.go), a PaymentClient that calls
// each guarded method through its breakerbox guard. The package's tests
// run the decorator against a real core.Registry, and breakergen's tests
// regenerate paymentclient_guard.go and compare it with the committed file.
package payments

import "context"

//go:generate go run github.com/breakerbox/breakerbox/cmd/breakergen -type PaymentClient

// Receipt is what a successful charge returns.
type Receipt struct {
	ID     string
	Amount int64
	Cached bool // answered by a fallback, not by the provider
}

// PaymentClient talks to a payment provider.
//
// The interface annotation guards every method under the prefix
// "payments." unless a method says otherwise; Charge and Refund name their
// own guards, Quote takes its name from the prefix (payments.quote), Status
// has no context and says so, and Ping opts out.
//
//breakerbox:guard prefix=payments.
type PaymentClient interface {
	// Charge charges amount cents to the customer. Its guard extends the
	// policy "payments"; each attempt gets 2s; when the call fails, the
	// fallback registered as "cached" answers.
	//
	//breakerbox:guard name=payments.charge policy=payments fallback=cached timeout=2s
	Charge(ctx context.Context, customer string, amount int64) (Receipt, error)

	// Refund refunds a charge: only an error comes back.
	//
	//breakerbox:guard name=payments.refund timeout=500ms
	Refund(ctx context.Context, receiptID string) error

	// Quote returns the fee and the currency of a charge: two results
	// and an error, which the decorator packs into a generated struct.
	Quote(ctx context.Context, amount int64) (fee int64, currency string, err error)

	// Status reports the provider's status; it takes no context.
	//
	//breakerbox:guard ctx=background
	Status() (string, error)

	// Ping checks the connection; it is not guarded.
	//
	//breakerbox:guard skip
	Ping(ctx context.Context) error
}
