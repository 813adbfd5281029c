// Package good is documented with a quoted snippet:
//
//	x := good.Double(2)
//	fmt.Println(x)   // 4
//
// a one-line snippet:
//
//	good.Double(3)
//
// and a table that is not Go:
//
//	name    value
//	double  2x
package good

// Double returns 2n.
//
//	y := good.Double(
//		21)
func Double(n int) int { return 2 * n }

// unexported docs are not shown by godoc, so their blocks are not checked:
//
//	bits 0-3  the state
//	bit  4    a flag
const mask = 0xf
