package bad_test

import (
	"fmt"

	"example.com/bad"
)

// A snippet outside an Example function does not count.
var _ = func() {
	x := bad.Triple(2)
	fmt.Println(x)
}

func ExampleDouble() {
	fmt.Println(bad.Double(2))
	// Output: 4
}
