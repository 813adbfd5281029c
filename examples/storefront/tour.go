package main

import (
	"context"
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// tourStep is one step of the guided tour: after a pause, change a fake's
// fault (reset it to its start when patch is nil) and say what to watch.
type tourStep struct {
	after time.Duration
	fake  string
	patch *FaultPatch
	say   string
}

func ptr[T any](v T) *T { return &v }

// tourSteps is the guided tour. open is the breakers' open duration.
func tourSteps(open time.Duration) []tourStep {
	return []tourStep{
		{15 * time.Second, fakePayments, &FaultPatch{Outage: ptr(true)},
			"payments goes down. Watch its breaker open, below and on the dashboard; checkouts still answer, " +
				"PAYMENT_PENDING (the API's fallback queues the payment); /admin/ready fails, since payments is critical."},
		{30 * time.Second, fakePayments, nil,
			fmt.Sprintf("payments is back. Within its open time (%v, doubled after each failed probe) the breaker "+
				"half-opens, two probes succeed, and it closes.", open)},
		{30 * time.Second, fakeRecommendations, &FaultPatch{Latency: ptr(core.Duration(400 * time.Millisecond))},
			"recommendations gets slow (400ms). The @breaker timeout (300ms) gives up, the bestsellers fallback answers, " +
				"and the breaker opens."},
		{30 * time.Second, fakeRecommendations, nil, "recommendations is fast again."},
		{30 * time.Second, fakeInventory, &FaultPatch{FailureRate: ptr(0.6)},
			"inventory fails 60% of its gRPC calls: stock shows UNKNOWN (the stockUnknown fallback), and the breaker opens."},
		{30 * time.Second, fakeInventory, nil,
			"inventory is healthy again. That was the tour: the demo keeps running; break things yourself (see above)."},
	}
}

// runTour plays the steps until they end or ctx does.
func runTour(ctx context.Context, faults *Faults, steps []tourStep, say func(format string, args ...any)) {
	say("tour: a guided tour starts in %v; it stops as soon as you change a fault yourself (-tour=false to skip it).", steps[0].after)
	for _, s := range steps {
		t := time.NewTimer(s.after)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var f Fault
		var err error
		if s.patch == nil {
			f, err = faults.Reset(s.fake)
		} else {
			f, err = faults.Patch(s.fake, *s.patch)
		}
		if err != nil {
			say("tour: %v", err)
			return
		}
		say("tour: %s [%s: %s]", s.say, s.fake, f.describe())
	}
}
