package graphql

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/ratelimit"
	"github.com/breakerbox/breakerbox/shed"
)

// OperationGuard is a gqlgen operation middleware that turns whole
// operations away before they run: load shedding by criticality
// ([ShedLoad]), a rate limit per client ([LimitPerClient]) and a limit on
// the operations running at once ([LimitConcurrent]). A rejected operation
// gets a one-shot response with null data and one error, whose extensions
// carry the code (LOAD_SHED, RATE_LIMITED, BULKHEAD_FULL) and retryAfter in
// seconds:
//
//	{"errors":[{"message":"operation rejected: ratelimit: limited",
//	  "extensions":{"code":"RATE_LIMITED","retryAfter":2}}],"data":null}
//
// The response is built with graphql.OneShot, so streaming transports
// (WebSocket, server-sent events) send it once and complete the
// operation: a rejected subscription gets one error message and a
// "complete", and the connection stays open for other operations.
//
// Install it with srv.Use(bbgraphql.Operations(...)), before the other
// extensions so that a rejected operation costs as little as possible.
// Over HTTP the response's status stays 200, as for any GraphQL error
// (put httpmw's middleware in front of the handler for 429 and 503 with
// Retry-After). An OperationGuard is safe for concurrent use.
type OperationGuard struct {
	limiter  *ratelimit.Keyed
	key      ClientKeyFunc
	bulk     *bulkhead.Bulkhead
	onReject func(ctx context.Context, err error)

	shedder     *shed.Shedder // ShedLoad (shed.go)
	criticality CriticalityFunc
}

var (
	_ graphql.HandlerExtension     = (*OperationGuard)(nil)
	_ graphql.OperationInterceptor = (*OperationGuard)(nil)
)

// ClientKeyFunc names the client that sent an operation, for the per-client
// rate limit: an API key, a user or tenant id from the context (put there
// by authentication middleware), or a client address. It gets the
// operation's context and its OperationContext, with the HTTP headers of
// the request, or of the WebSocket upgrade request. Browsers cannot set
// headers on a WebSocket upgrade, so their clients usually send their
// credentials in the connection_init payload instead, which
// transport.GetInitPayload(ctx) returns.
type ClientKeyFunc func(ctx context.Context, oc *graphql.OperationContext) string

// HeaderKey returns a ClientKeyFunc that names clients by the value of the
// request header name, such as "X-Api-Key". Requests without it share the
// key "".
func HeaderKey(name string) ClientKeyFunc {
	return func(_ context.Context, oc *graphql.OperationContext) string {
		if oc == nil {
			return ""
		}
		return oc.Headers.Get(name)
	}
}

// OperationOption configures an [OperationGuard].
type OperationOption interface{ applyOp(*OperationGuard) }

type opOptionFunc func(*OperationGuard)

func (f opOptionFunc) applyOp(g *OperationGuard) { f(g) }

// LimitPerClient rate-limits operations per client: each operation
// (query, mutation, or the start of a subscription) takes one call from
// key's limiter in limiter, which bounds the memory the clients take (see
// ratelimit.Keyed). Clients for which key returns "" share one limit, so
// that leaving the key out is no way around it.
func LimitPerClient(limiter *ratelimit.Keyed, key ClientKeyFunc) OperationOption {
	return opOptionFunc(func(g *OperationGuard) { g.limiter, g.key = limiter, key })
}

// LimitConcurrent limits the queries and mutations running at once with b:
// an operation takes a slot (waiting in b's queue, if it has one) and gives
// it back when its response is ready. Subscriptions are not counted: they
// live as long as their client wants, and a few idle ones would starve
// every query; limit their starts with LimitPerClient.
func LimitConcurrent(b *bulkhead.Bulkhead) OperationOption {
	return opOptionFunc(func(g *OperationGuard) { g.bulk = b })
}

// OnReject sets a function called with every rejection the guard makes
// (an *OperationError, matching core.ErrRejected and ratelimit.ErrLimited
// or bulkhead.ErrFull), for logs or metrics. It must be quick. Operations
// whose context ended while they waited for a bulkhead slot are answered
// with the context's error and not reported.
func OnReject(fn func(ctx context.Context, err error)) OperationOption {
	return opOptionFunc(func(g *OperationGuard) { g.onReject = fn })
}

// Operations returns an operation middleware configured by opts.
func Operations(opts ...OperationOption) *OperationGuard {
	g := &OperationGuard{}
	for _, o := range opts {
		if o != nil {
			o.applyOp(g)
		}
	}
	return g
}

// ExtensionName implements graphql.HandlerExtension.
func (g *OperationGuard) ExtensionName() string { return "BreakerboxOperations" }

// Validate implements graphql.HandlerExtension: it reports a rate limit
// without a key function.
func (g *OperationGuard) Validate(graphql.ExecutableSchema) error {
	if g.limiter != nil && g.key == nil {
		return errors.New("graphql: LimitPerClient needs a ClientKeyFunc")
	}
	return nil
}

// interceptOperation applies the rate limit and the concurrency limit.
func (g *OperationGuard) interceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
	}
	if g.limiter != nil {
		key := g.key(ctx, oc)
		if !g.limiter.Allow(key) {
			return g.reject(ctx, &OperationError{Reason: ratelimit.ErrLimited, retryAfter: g.limiter.RetryAfter(key)})
		}
	}
	if g.bulk == nil || (oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Subscription) {
		return next(ctx)
	}
	if err := g.bulk.Acquire(ctx); err != nil {
		if errors.Is(err, bulkhead.ErrFull) {
			err = &OperationError{Reason: bulkhead.ErrFull}
		}
		return g.reject(ctx, err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			g.bulk.Release()
		}
	}
	h := func() (h graphql.ResponseHandler) {
		defer func() {
			if h == nil {
				release()
			}
		}()
		return next(ctx)
	}()
	// The slot is held until the first response is ready: transports call
	// the handler once for a query or mutation (and again, for incremental
	// delivery, for deferred parts, which then run outside the limit).
	return func(ctx context.Context) *graphql.Response {
		defer release()
		return h(ctx)
	}
}

// reject answers an operation with a one-shot error response.
func (g *OperationGuard) reject(ctx context.Context, err error) graphql.ResponseHandler {
	if g.onReject != nil && errors.Is(err, core.ErrRejected) {
		g.onReject(ctx, err)
	}
	var e *gqlerror.Error
	var oe *OperationError
	if errors.As(err, &oe) {
		e = rejectionError(err, oe.RetryAfter())
	} else {
		e = &gqlerror.Error{Err: err, Message: err.Error()}
	}
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{e}})
}

// OperationError is the error of an operation an [OperationGuard] rejected.
// It matches core.ErrRejected and its Reason (ratelimit.ErrLimited,
// bulkhead.ErrFull or shed.ErrShed) with errors.Is.
type OperationError struct {
	// Reason is the sentinel of the limit that refused the operation.
	Reason     error
	retryAfter time.Duration
}

// Error returns "operation rejected: " and the reason.
func (e *OperationError) Error() string { return "operation rejected: " + e.Reason.Error() }

// Unwrap returns Reason.
func (e *OperationError) Unwrap() error { return e.Reason }

// RetryAfter returns when the client may try again; zero when unknown.
func (e *OperationError) RetryAfter() time.Duration { return e.retryAfter }
