package breaker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// TestAdvanceToHalfOpensAtTheEndOfTheOpenDuration: without AdvanceTo an
// explicit-time breaker half-opens at the next AllowAt, stamped then; with
// it, at the moment the open duration ends.
func TestAdvanceToHalfOpensAtTheEndOfTheOpenDuration(t *testing.T) {
	var got []breaker.Transition
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, OpenDuration: 5 * time.Second,
		OnStateChange: func(_ context.Context, tr breaker.Transition) { got = append(got, tr) }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p, _ := b.AllowAt(context.Background(), t0)
	p.DoneAt(t0, errors.New("down"))
	b.AdvanceTo(t0.Add(4 * time.Second)) // not yet
	if b.State() != breaker.Open {
		t.Fatalf("state %v before the open duration ended", b.State())
	}
	b.AdvanceTo(t0.Add(time.Hour))
	if len(got) != 2 || got[1].To != breaker.HalfOpen || !got[1].At.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("transitions %v; want half-open at +5s", got)
	}
	b.AdvanceTo(t0) // going back changes nothing
	if len(got) != 2 {
		t.Fatalf("AdvanceTo an earlier time made %v", got[2:])
	}
}

// TestAdvanceToLeavesARealClockOpenToItsTimer: a breaker opened on the real
// clock half-opens when its timer fires, not when AdvanceTo passes.
func TestAdvanceToLeavesARealClockOpenToItsTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, OpenDuration: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := b.Allow(context.Background())
		p.Done(errors.New("down"))
		b.AdvanceTo(time.Now().Add(time.Hour))
		if b.State() != breaker.Open {
			t.Fatalf("state %v: AdvanceTo moved a breaker its timer owns", b.State())
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if b.State() != breaker.HalfOpen {
			t.Fatalf("state %v after the open duration", b.State())
		}
	})
}

func TestOverrideAtStampsTheExplicitTime(t *testing.T) {
	b, err := breaker.New(breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := breaker.Manual{Actor: "alice", Reason: "maintenance"}
	tr, err := b.OverrideAt(t0, breaker.ForcedOpen, m)
	if err != nil || tr.To != breaker.ForcedOpen || !tr.At.Equal(t0) || tr.Actor != "alice" {
		t.Fatalf("OverrideAt(forced-open) = %v at %v, %v", tr, tr.At, err)
	}
	if tr, _ = b.OverrideAt(t0.Add(time.Minute), breaker.Closed, m); tr.To != breaker.Closed || !tr.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("OverrideAt(closed) = %v at %v", tr, tr.At)
	}
	if _, err := b.OverrideAt(t0, breaker.Open, m); err == nil || !strings.Contains(err.Error(), "open") {
		t.Fatalf("OverrideAt(open) = %v, want refused", err)
	}
}
