// Package core is a stub of breakerbox's core for the analyzer's tests.
package core

import "context"

type Registry struct{}

type Guard struct{}

type Permit struct{}

func (g *Guard) Allow(ctx context.Context) (Permit, error) { return Permit{}, nil }

func (g *Guard) Do(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

func (p *Permit) Done(err error) {}

func (p *Permit) Report(r int, err error) {}

func Do[T any](ctx context.Context, g *Guard, fn func(context.Context) (T, error)) (T, error) {
	return fn(ctx)
}
