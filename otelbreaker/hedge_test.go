package otelbreaker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

func TestHedgeSpanEvent(t *testing.T) {
	e := newEnv(t, []core.Option{core.WithPolicies(core.Policy{Name: "h", Match: []string{"h.*"},
		Hedge: &core.HedgePolicy{Delay: ms(time.Millisecond)}})})
	g := e.reg.MustGuard("h.quote")
	ctx, span := e.tp.Tracer("test").Start(context.Background(), "quote")
	var n atomic.Int32
	v, err := core.DoIdempotent(ctx, g, func(ctx context.Context) (int32, error) {
		i := n.Add(1)
		if i == 1 { // the first attempt waits until the hedge has answered
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return i, nil
	})
	span.End()
	if v != 2 || err != nil {
		t.Fatalf("DoIdempotent = %d, %v; want the hedge's answer", v, err)
	}
	var events int
	for _, s := range e.spans.Ended() {
		for _, ev := range s.Events() {
			if ev.Name != otelbreaker.HedgeEventName {
				continue
			}
			events++
			a := kvMap(ev.Attributes)
			if a["breakerbox.guard.name"] != "h.quote" || a["breakerbox.hedge.number"] != "1" || a["breakerbox.hedge.delay"] != "0.001" {
				t.Errorf("hedge event attributes %v", a)
			}
		}
	}
	if events != 1 {
		t.Fatalf("%d hedge events; want 1", events)
	}
}
