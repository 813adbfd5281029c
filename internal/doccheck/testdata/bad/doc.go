// Package bad has a snippet its examples do not quote:
//
//	x := bad.Triple(2)
//	fmt.Println(x)
//
// a one-line snippet naming a removed function:
//
//	bad.Halve(3)
package bad

// Double returns 2n.
func Double(n int) int { return 2 * n }
