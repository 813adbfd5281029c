package graphql

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/breakerbox/breakerbox/shed"
)

// CodeLoadShed is the "code" extension of an operation shed by
// [ShedLoad]'s shedder.
const CodeLoadShed = "LOAD_SHED"

// CriticalityHeaderName is the request header [DefaultCriticality] reads an
// operation's criticality from, as httpmw does: "critical", "default" or
// "sheddable" (see shed.ParseCriticality).
const CriticalityHeaderName = "X-Request-Criticality"

// CriticalityFunc tells an operation's criticality, for [ShedLoad]. It gets
// the operation's context and its OperationContext (nil outside an
// operation), with the operation's name and the request's headers.
type CriticalityFunc func(ctx context.Context, oc *graphql.OperationContext) shed.Criticality

// DefaultCriticality is the CriticalityFunc of ShedLoad when none is
// given: the criticality in the context (shed.FromContext: set by
// httpmw.WithShedder in front of the GraphQL handler), else the request's
// CriticalityHeaderName header, else shed.Default.
func DefaultCriticality(ctx context.Context, oc *graphql.OperationContext) shed.Criticality {
	if c, ok := shed.FromContext(ctx); ok {
		return c
	}
	if oc != nil {
		c, _ := shed.ParseCriticality(oc.Headers.Get(CriticalityHeaderName))
		return c
	}
	return shed.Default
}

// OperationCriticality returns a CriticalityFunc that gives the operations
// named in byName (by their operation name, such as "Checkout" for
// `query Checkout {...}`) their criticality, and every other operation next's (DefaultCriticality when
// next is nil).
func OperationCriticality(byName map[string]shed.Criticality, next CriticalityFunc) CriticalityFunc {
	if next == nil {
		next = DefaultCriticality
	}
	return func(ctx context.Context, oc *graphql.OperationContext) shed.Criticality {
		if oc != nil {
			name := oc.OperationName
			if name == "" && oc.Operation != nil {
				name = oc.Operation.Name
			}
			if c, ok := byName[name]; ok {
				return c
			}
		}
		return next(ctx, oc)
	}
}

// ShedLoad sheds operations by criticality before the other limits of the
// guard: each operation is admitted by s with the criticality crit tells
// (nil means DefaultCriticality); sheddable operations are shed first and
// critical ones last (see shed.Shedder). Queries and mutations take one of
// s's slots (s.Acquire, waiting in its queue if it has one) until their
// response is ready; the start of a subscription is decided (s.AllowAt)
// without taking a slot, as LimitConcurrent does not count subscriptions. A
// shed operation is rejected as the guard rejects any: null data and one
// error whose extensions carry the code LOAD_SHED and retryAfter (the
// shedder's RetryAfter); the error, an *OperationError, matches
// core.ErrRejected and shed.ErrShed. The operation runs with its
// criticality in its context (shed.FromContext). A nil s turns shedding
// off.
func ShedLoad(s *shed.Shedder, crit CriticalityFunc) OperationOption {
	return opOptionFunc(func(g *OperationGuard) {
		if crit == nil {
			crit = DefaultCriticality
		}
		g.shedder, g.criticality = s, crit
	})
}

// InterceptOperation implements graphql.OperationInterceptor: shedding
// first (ShedLoad), then the rate limit and the concurrency limit.
func (g *OperationGuard) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if g.shedder == nil {
		return g.interceptOperation(ctx, next)
	}
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
	}
	c := g.criticality(ctx, oc)
	if oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		if err := g.shedder.AllowAt(time.Now(), c); err != nil {
			return g.reject(ctx, shedError(err))
		}
		return g.interceptOperation(shed.NewContext(ctx, c), next)
	}
	t, err := g.shedder.Acquire(ctx, c)
	if err != nil {
		return g.reject(ctx, shedError(err))
	}
	released := false
	release := func() {
		if !released {
			released = true
			t.Done()
		}
	}
	h := func() (h graphql.ResponseHandler) {
		defer func() {
			if h == nil {
				release()
			}
		}()
		return g.interceptOperation(shed.NewContext(ctx, c), next)
	}()
	// The slot is held until the first response is ready, as with
	// LimitConcurrent.
	return func(ctx context.Context) *graphql.Response {
		defer release()
		return h(ctx)
	}
}

// shedError is the error of an operation the shedder refused: an
// *OperationError for a shed one, or the context's error for one whose
// context ended while it waited.
func shedError(err error) error {
	if rej, ok := err.(*shed.Rejection); ok {
		return &OperationError{Reason: shed.ErrShed, retryAfter: rej.RetryAfter()}
	}
	return err
}
