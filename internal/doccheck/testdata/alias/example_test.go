package metric_test

import (
	"fmt"

	mx "github.com/breakerbox/breakerbox/internal/doccheck/testdata/alias"
)

func ExampleNewCollector() {
	fmt.Println(mx.NewCollector(1))
	// Output: 1
}
