package fallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/internal/reject"
)

var (
	errOpen    = reject.New("breaker: open", "circuit_open")
	errUp      = errors.New("upstream: 503")
	errMiss    = errors.New("miss")
	errDefault = errors.New("no default")
)

type netTimeout struct{}

func (netTimeout) Error() string { return "i/o timeout" }
func (netTimeout) Timeout() bool { return true }

type notTimeout struct{}

func (notTimeout) Error() string { return "temporary" }
func (notTimeout) Timeout() bool { return false }

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{nil, Failed},
		{errUp, Failed},
		{errOpen, Rejected},
		{fmt.Errorf("guard payments: %w", errOpen), Rejected},
		{reject.ErrRejected, Rejected},
		{context.DeadlineExceeded, TimedOut},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), TimedOut},
		{os.ErrDeadlineExceeded, TimedOut},
		{fmt.Errorf("read: %w", netTimeout{}), TimedOut},
		{errors.Join(errUp, netTimeout{}), TimedOut},
		{notTimeout{}, Failed},
		{context.Canceled, Failed},
		{errors.Join(context.DeadlineExceeded, errOpen), Rejected}, // rejection first
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	err := fmt.Errorf("x: %w", netTimeout{})
	if n := testing.AllocsPerRun(100, func() { KindOf(err) }); n != 0 {
		t.Errorf("KindOf allocates %v times", n)
	}
}

func TestKindText(t *testing.T) {
	for _, k := range []Kind{Failed, Rejected, TimedOut} {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Kind
		if err := got.UnmarshalText(b); err != nil || got != k {
			t.Fatalf("round trip of %v: %v, %v", k, got, err)
		}
	}
	if got := []string{Failed.String(), Rejected.String(), TimedOut.String(), Kind(5).String()}; fmt.Sprint(got) != "[failed rejected timed_out Kind(5)]" {
		t.Fatalf("String = %v", got)
	}
	if _, err := ParseKind("timeout"); err == nil || err.Error() != `fallback: kind: "timeout" must be failed, rejected or timed_out` {
		t.Fatalf("ParseKind(bad) = %v", err)
	}
	if _, err := Kind(5).MarshalText(); err == nil {
		t.Fatal("MarshalText accepted Kind(5)")
	}
}

// recorder builds steps that log their runs.
type recorder struct{ ran []string }

func (r *recorder) step(name string, v any, err error, on ...Kind) Step {
	return Step{Name: name, On: on, Fn: func(ctx context.Context, c Cause) (any, error) {
		r.ran = append(r.ran, name)
		return v, err
	}}
}

func TestRunFirstSuccessWins(t *testing.T) {
	r := &recorder{}
	c := NewChain(r.step("cache", nil, errMiss), r.step("static", 42, nil), r.step("never", 7, nil))
	v, err := c.Run(context.Background(), errUp)
	if err != nil || v != 42 {
		t.Fatalf("Run = %v, %v; want 42, nil", v, err)
	}
	if fmt.Sprint(r.ran) != "[cache static]" {
		t.Fatalf("ran %v", r.ran)
	}
}

func TestRunEligibility(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // the step that answers
	}{
		{"rejected", fmt.Errorf("guard: %w", errOpen), "on-rejected"},
		{"timed out", context.DeadlineExceeded, "on-timeout"},
		{"failed", errUp, "any"},
		{"filtered", io.ErrUnexpectedEOF, "when-eof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewChain(
				Step{Name: "on-rejected", On: []Kind{Rejected}, Fn: answer("on-rejected")},
				Step{Name: "on-timeout", On: []Kind{TimedOut, Rejected}, Fn: answer("on-timeout")},
				Step{Name: "when-eof", When: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, Fn: answer("when-eof")},
				Step{Name: "any", Fn: answer("any")},
			)
			v, err := c.Run(context.Background(), tt.err)
			if err != nil || v != tt.want {
				t.Fatalf("Run = %v, %v; want %q", v, err, tt.want)
			}
		})
	}
}

func answer(s string) Func {
	return func(context.Context, Cause) (any, error) { return s, nil }
}

func TestRunCause(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	orig := fmt.Errorf("guard: %w", errOpen)
	var got []Cause
	c := NewChain(
		Step{Name: "a", Fn: func(ctx context.Context, c Cause) (any, error) {
			if ctx.Value(ctxKey{}) != "v" {
				t.Error("step did not get Run's context")
			}
			got = append(got, c)
			return nil, errMiss
		}},
		Step{Name: "b", Fn: func(_ context.Context, c Cause) (any, error) { got = append(got, c); return "ok", nil }},
	)
	if _, err := c.Run(ctx, orig); err != nil {
		t.Fatal(err)
	}
	for i, cause := range got {
		if cause.Err != orig || cause.Kind != Rejected {
			t.Errorf("step %d got %+v, want the original error, Rejected", i, cause)
		}
	}
}

type ctxKey struct{}

func TestRunAllFail(t *testing.T) {
	r := &recorder{}
	c := NewChain(r.step("cache", nil, errMiss), r.step("static", nil, errDefault), r.step("only-rejected", 1, nil, Rejected))
	v, err := c.Run(context.Background(), errUp)
	if v != nil || err == nil {
		t.Fatalf("Run = %v, %v; want nil and an error", v, err)
	}
	for _, target := range []error{errUp, errMiss, errDefault} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if got, want := err.Error(), `upstream: 503; fallback "cache": miss; fallback "static": no default`; got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	var se *StepError
	if !errors.As(err, &se) || se.Step != "cache" || se.Err != errMiss {
		t.Errorf("errors.As StepError = %+v", se)
	}
	if joined, ok := err.(interface{ Unwrap() []error }); !ok || len(joined.Unwrap()) != 3 || joined.Unwrap()[0] != errUp {
		t.Errorf("Unwrap() []error: original first, then 2 steps; got %v", err)
	}
	// A rejection stays a rejection through the joined error.
	_, err = c.Run(context.Background(), errOpen)
	if err != nil {
		t.Fatalf("only-rejected step should have answered: %v", err)
	}
}

func TestRunNoneEligible(t *testing.T) {
	c := NewChain(Step{Name: "r", On: []Kind{Rejected}, Fn: answer("r")})
	v, err := c.Run(context.Background(), errUp)
	if v != nil || err != errUp {
		t.Fatalf("Run = %v, %v; want the original error itself", v, err)
	}
	for _, c := range []*Chain{nil, NewChain()} {
		if v, err := c.Run(context.Background(), errUp); v != nil || err != errUp {
			t.Fatalf("empty chain: Run = %v, %v", v, err)
		}
	}
	if (*Chain)(nil).Len() != 0 || NewChain(Step{}, Step{}).Len() != 2 {
		t.Fatal("Len")
	}
}

func TestRunNilError(t *testing.T) {
	r := &recorder{}
	c := NewChain(r.step("a", 1, nil))
	if v, err := c.Run(context.Background(), nil); v != nil || err != nil || len(r.ran) != 0 {
		t.Fatalf("Run(nil) = %v, %v, ran %v", v, err, r.ran)
	}
}

func TestRunNilFn(t *testing.T) {
	c := NewChain(Step{Name: "broken"}, Step{Fn: func(context.Context, Cause) (any, error) { return nil, errMiss }})
	_, err := c.Run(context.Background(), errUp)
	if got, want := err.Error(), `upstream: 503; fallback "broken": step has no Fn; fallback "#2": miss`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestNewChainCopies(t *testing.T) {
	steps := []Step{{Name: "a", On: []Kind{Rejected}, Fn: answer("a")}}
	c := NewChain(steps...)
	steps[0].Name, steps[0].On[0], steps[0].Fn = "changed", Failed, answer("changed")
	if v, err := c.Run(context.Background(), errOpen); v != "a" || err != nil {
		t.Fatalf("chain changed with its input: %v, %v", v, err)
	}
	if v, err := c.Run(context.Background(), errUp); v != nil || err != errUp {
		t.Fatalf("On changed with its input: %v, %v", v, err)
	}
	// Unknown kinds only: the step handles nothing.
	c = NewChain(Step{On: []Kind{Kind(9)}, Fn: answer("x")})
	if _, err := c.Run(context.Background(), errUp); err != errUp {
		t.Fatalf("step with only unknown kinds ran: %v", err)
	}
}

func TestRunPanicPropagates(t *testing.T) {
	c := NewChain(Step{Fn: func(context.Context, Cause) (any, error) { panic("boom") }})
	defer func() {
		if recover() != "boom" {
			t.Fatal("panic not propagated")
		}
	}()
	_, _ = c.Run(context.Background(), errUp)
}

func TestRunConcurrent(t *testing.T) {
	c := NewChain(Step{Name: "a", Fn: func(context.Context, Cause) (any, error) { return nil, errMiss }}, Step{Fn: answer("b")})
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				if v, err := c.Run(context.Background(), errUp); v != "b" || err != nil {
					t.Errorf("Run = %v, %v", v, err)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func TestRunAllocs(t *testing.T) {
	ctx := context.Background()
	result := any(42) // boxed once, outside the measurement
	c := NewChain(
		Step{Name: "skip", On: []Kind{Rejected}, Fn: answer("skip")},
		Step{Name: "hit", Fn: func(context.Context, Cause) (any, error) { return result, nil }},
	)
	if n := testing.AllocsPerRun(1000, func() { _, _ = c.Run(ctx, errUp) }); n != 0 {
		t.Errorf("Run (eligible step succeeds) allocates %v times", n)
	}
}

func TestTyped(t *testing.T) {
	if v, err := Typed[int](42, nil); v != 42 || err != nil {
		t.Errorf("Typed[int](42) = %v, %v", v, err)
	}
	if v, err := Typed[int](42, errUp); v != 0 || err != errUp {
		t.Errorf("Typed passes errors through: %v, %v", v, err)
	}
	if _, err := Typed[int]("42", nil); err == nil || err.Error() != "fallback: result is string, want int" {
		t.Errorf("Typed[int](string) = %v", err)
	}
	if _, err := Typed[int](nil, nil); err == nil || err.Error() != "fallback: result is nil, want int" {
		t.Errorf("Typed[int](nil) = %v", err)
	}
	type quote struct{ price float64 }
	if v, err := Typed[*quote](nil, nil); v != nil || err != nil {
		t.Errorf("Typed[*quote](nil) = %v, %v", v, err)
	}
	if _, err := Typed[*quote](quote{}, nil); err == nil || err.Error() != "fallback: result is fallback.quote, want *fallback.quote" {
		t.Errorf("Typed[*quote](quote) = %v", err)
	}
	if v, err := Typed[[]string](nil, nil); v != nil || err != nil {
		t.Errorf("Typed[[]string](nil) = %v, %v", v, err)
	}
	if v, err := Typed[error](nil, nil); v != nil || err != nil {
		t.Errorf("Typed[error](nil) = %v, %v", v, err)
	}
	if v, err := Typed[fmt.Stringer](errUp, nil); v != nil || err == nil || !strings.Contains(err.Error(), "want fmt.Stringer") {
		t.Errorf("Typed[fmt.Stringer](error) = %v, %v", v, err)
	}
	if v, err := Typed[any]("x", nil); v != "x" || err != nil {
		t.Errorf("Typed[any] = %v, %v", v, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Typed[*quote](&quote{}, nil) }); n > 1 {
		t.Errorf("Typed allocates %v times", n)
	}
}

func BenchmarkRunFirstStep(b *testing.B) {
	ctx := context.Background()
	result := any(42)
	c := NewChain(Step{Name: "static", Fn: func(context.Context, Cause) (any, error) { return result, nil }})
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Run(ctx, errUp)
	}
}

func BenchmarkRunFirstStepParallel(b *testing.B) {
	ctx := context.Background()
	result := any(42)
	c := NewChain(Step{Name: "static", Fn: func(context.Context, Cause) (any, error) { return result, nil }})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = c.Run(ctx, errUp)
		}
	})
}

func BenchmarkRunAllFail(b *testing.B) {
	ctx := context.Background()
	fail := func(context.Context, Cause) (any, error) { return nil, errMiss }
	c := NewChain(Step{Name: "a", Fn: fail}, Step{Name: "b", Fn: fail})
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Run(ctx, errUp)
	}
}

func BenchmarkKindOf(b *testing.B) {
	err := fmt.Errorf("guard: %w", errOpen)
	b.ReportAllocs()
	for b.Loop() {
		_ = KindOf(err)
	}
}
