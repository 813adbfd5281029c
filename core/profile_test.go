package core

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"runtime/pprof"
	"testing"
	"time"
)

// TestProfilerLabels takes a real CPU profile while a guarded function
// burns CPU, and finds the guard's label on the samples.
func TestProfilerLabels(t *testing.T) {
	r := mustRegistry(t, WithProfilerLabels(func(ctx context.Context) []string { return []string{"span_id", "00f067aa0ba902b7"} }))
	g := mustGuard(t, r, "checkout")
	var seen map[string]string
	_ = g.Do(bg, func(ctx context.Context) error {
		seen = map[string]string{}
		pprof.ForLabels(ctx, func(k, v string) bool { seen[k] = v; return true })
		return nil
	})
	if seen["breakerbox_guard"] != "checkout" || seen["span_id"] != "00f067aa0ba902b7" {
		t.Fatalf("labels in the guarded function: %v", seen)
	}

	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CPU profiling unavailable: %v", err)
		}
		t.Skipf("CPU profiling unavailable: %v", err) // another profile is running (go test -cpuprofile)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	sink := 0
	for time.Now().Before(deadline) {
		_ = g.Do(bg, func(context.Context) error {
			for i := range 200_000 {
				sink += i % 7
			}
			return nil
		})
	}
	pprof.StopCPUProfile()
	_ = sink
	// The profile is gzipped protobuf; label strings sit in its string table.
	raw, err := gunzip(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("breakerbox_guard")) || !bytes.Contains(raw, []byte("checkout")) {
		t.Fatal("the CPU profile has no breakerbox_guard=checkout label")
	}
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
