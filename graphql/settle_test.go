package graphql_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
)

// TestPanickingResolverReportedOnce: a resolver's panic is one failure with
// core.ErrPanicked on each of the directive's paths (the direct one, the
// one through core.Do for a timeout) and under the field middleware, and
// the panic goes on to gqlgen's recovery.
func TestPanickingResolverReportedOnce(t *testing.T) {
	var mu sync.Mutex
	var seen []core.Completion
	reg := newRegistry(t, core.WithHooks(core.Hooks{OnDone: func(_ context.Context, c core.Completion) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
	}}))
	d := bbgraphql.Directive(reg)
	f := bbgraphql.Fields(reg)
	bug := func(context.Context) (any, error) { panic("resolver bug") }
	direct, timed, timeout := "direct", "timed", "1m"
	for _, c := range []struct {
		guard string
		call  func()
	}{
		{"direct", func() { _, _ = d(fieldContext("Query", "quote", true), nil, bug, &direct, nil, nil) }},
		{"timed", func() { _, _ = d(fieldContext("Query", "quote", true), nil, bug, &timed, nil, &timeout) }},
		{"Query.weather", func() { _, _ = f.InterceptField(fieldContext("Query", "weather", true), bug) }},
	} {
		func() {
			defer func() {
				if v := recover(); v != "resolver bug" {
					t.Errorf("%s: recovered %v, want the resolver's panic", c.guard, v)
				}
			}()
			c.call()
		}()
		mu.Lock()
		got := seen
		seen = nil
		mu.Unlock()
		if len(got) != 1 || got[0].Guard != c.guard || got[0].Result != breaker.Failure || !errors.Is(got[0].Err, core.ErrPanicked) {
			t.Errorf("%s: completions %+v, want one failure with core.ErrPanicked", c.guard, got)
		}
		if s := mustGuard(t, reg, c.guard).Snapshot().Breaker; s.Failed != 1 || s.Succeeded+s.Ignored != 0 {
			t.Errorf("%s: breaker %+v, want one failure", c.guard, s)
		}
	}
}
