package good_test

import (
	"fmt"

	"example.com/good"
)

func ExampleDouble() {
	x := good.Double(2)

	fmt.Println(x) // 4
	y := good.Double(
		21)
	_ = y
	// Output: 4
}
