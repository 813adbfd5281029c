package breaker

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	b, err := New(Config{WindowSize: 10, MinCalls: 4, OpenDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Unix(1000, 0)
	boom := errors.New("boom")
	for i := 0; i < 4; i++ {
		p, err := b.AllowAt(ctx, t0)
		if err != nil {
			t.Fatal(i, err)
		}
		p.DoneAt(t0, boom)
	}
	if b.State() != Open {
		t.Fatalf("state %v", b.State())
	}
	if _, err := b.AllowAt(ctx, t0.Add(500*time.Millisecond)); !errors.Is(err, ErrOpen) {
		t.Fatal(err)
	}
	p, err := b.AllowAt(ctx, t0.Add(time.Second))
	if err != nil || b.State() != HalfOpen {
		t.Fatal(err, b.State())
	}
	p.DoneAt(t0.Add(time.Second), nil)
	if b.State() != Closed {
		t.Fatal(b.State())
	}
	t.Logf("%+v", b.Snapshot())
}
