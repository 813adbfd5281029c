// Package collide declares names that the generated code would otherwise
// use: breakergen renames its imports and parameters around them.
package collide

import "context"

var time = "not the time package"

// errors is a package-level function named like the errors package.
func errors() {}

// Client's parameters are named like the generated code's locals.
type Client interface {
	//breakerbox:guard name=c.call timeout=1s
	Call(c context.Context, d string, err int, core bool, a0 string, r ...byte) (string, error)

	//breakerbox:guard name=c.one
	One(ctx context.Context, x, x2 int) error
}
