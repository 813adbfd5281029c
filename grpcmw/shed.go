package grpcmw

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/shed"
)

// CriticalityMetadataKey is the incoming metadata key [WithShedder] reads a
// call's criticality from by default: "critical", "default" or
// "sheddable" (see shed.ParseCriticality).
const CriticalityMetadataKey = "x-request-criticality"

// WithShedder makes the server interceptors shed load before any guard
// runs: each call the interceptors select (the Matcher and the selector:
// by default every call but the health service's) is admitted by s
// (s.Acquire) with its criticality, which crit reads from the call's
// context (nil means [CriticalityMetadata] of [CriticalityMetadataKey]; a
// missing or unknown value is shed.Default). Sheddable calls are shed first
// and critical ones last (see shed.Shedder). A shed call is answered as the
// interceptors answer a bulkhead that sheds: codes.ResourceExhausted with
// the shedder's message (a generic one with WithPublicErrors), a RetryInfo
// detail and the grpc-retry-pushback-ms trailer, both the shedder's
// RetryAfter; the error the interceptor returns matches core.ErrRejected
// and shed.ErrShed. A call whose context ends while it waits in the
// shedder's queue gets its context's status. An admitted unary call carries
// its criticality in its context (shed.FromContext); a call, or a stream,
// holds its shedder slot until its handler returns. A nil s turns shedding
// off. Server interceptors only; the client ones ignore it.
func WithShedder(s *shed.Shedder, crit func(ctx context.Context) shed.Criticality) Option {
	return optionFunc(func(c *config) {
		if s != nil && crit == nil {
			crit = CriticalityMetadata(CriticalityMetadataKey)
		}
		c.shedder, c.criticality = s, crit
	})
}

// CriticalityMetadata returns a criticality function for [WithShedder] that
// parses the first value of the incoming metadata key (matched
// case-insensitively); a missing or unknown value is shed.Default.
func CriticalityMetadata(key string) func(ctx context.Context) shed.Criticality {
	key = strings.ToLower(key)
	return func(ctx context.Context) shed.Criticality {
		c, _ := shed.ParseCriticality(metadataValue(ctx, key))
		return c
	}
}

// admitShed admits a server call through the shedder. It returns the
// call's context with its criticality, and the ticket whose Done gives the
// slot back; or the error to answer the call with.
func (c *config) admitShed(ctx context.Context, cl *call) (context.Context, shed.Ticket, error) {
	crit := c.criticality(ctx)
	t, err := c.shedder.Acquire(ctx, crit)
	if err == nil {
		return shed.NewContext(ctx, crit), t, nil
	}
	rej, ok := err.(*shed.Rejection)
	if !ok {
		return ctx, t, status.FromContextError(err).Err()
	}
	d := rej.RetryAfter()
	if d <= 0 {
		d = c.pushback
	}
	setTrailer(ctx, cl, pushbackMD(d))
	msg := rej.Error()
	if c.public {
		msg = publicMessage
	}
	return ctx, t, &answer{err: rej, st: rejectionStatus(codes.ResourceExhausted, msg, d)}
}
