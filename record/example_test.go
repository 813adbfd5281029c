package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/record"
)

// A recorder attached to a registry records its guards' state changes and
// call outcomes; Export writes the recording, Read reads it back.
func ExampleRecorder() {
	dir, _ := os.MkdirTemp("", "recording")
	defer os.RemoveAll(dir)
	rec, err := record.New(dir, record.WithMaxBytes(1<<20), record.WithSampling(1))
	if err != nil {
		panic(err)
	}
	defer rec.Close()
	reg, _ := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "strict", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}))
	defer rec.Attach(reg)()

	g := reg.MustGuard("payments")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if p, err := g.AllowAt(context.Background(), t0.Add(time.Duration(i)*time.Second)); err == nil {
			p.DoneAt(t0.Add(time.Duration(i)*time.Second+40*time.Millisecond), errors.New("timeout"))
		}
	}

	var buf bytes.Buffer
	if err := rec.Export(&buf); err != nil {
		panic(err)
	}
	back, err := record.Read(&buf, 0)
	if err != nil {
		panic(err)
	}
	for _, e := range back.Events {
		switch e.Kind {
		case record.KindCall:
			fmt.Println(e.Kind, e.Guard, e.Result, e.Latency())
		case record.KindState:
			fmt.Println(e.Kind, e.Guard, e.From, "->", e.To, e.At.Format(time.TimeOnly))
		case record.KindReject:
			fmt.Println(e.Kind, e.Guard, e.Reason)
		case record.KindPolicy:
			fmt.Println(e.Kind, e.Version)
		}
	}
	// Output:
	// policy 0
	// call payments failure 40ms
	// state payments closed -> open 12:00:01
	// call payments failure 40ms
	// reject payments circuit_open
}
