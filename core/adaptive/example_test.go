package adaptive_test

import (
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
)

func Example() {
	alg, err := adaptive.NewAIMD(adaptive.AIMDConfig{
		Bounds:  adaptive.Bounds{Min: 2, Max: 50, Initial: 10},
		Backoff: 0.5,
	})
	if err != nil {
		log.Fatal(err)
	}
	lim, err := adaptive.NewLimiter(alg, adaptive.Window{Samples: 4})
	if err != nil {
		log.Fatal(err)
	}

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 8 { // two windows of successful calls: +1 each
		lim.Record(start.Add(time.Duration(i)*time.Millisecond), 20*time.Millisecond, 10, false)
	}
	fmt.Println(lim.Limit())
	for i := range 4 { // a window with a failure: halved
		lim.Record(start.Add(time.Second), 20*time.Millisecond, 12, i == 0)
	}
	fmt.Println(lim.Limit())
	// Output:
	// 12
	// 6
}

func ExampleVegas() {
	v, err := adaptive.NewVegas(adaptive.VegasConfig{Bounds: adaptive.Bounds{Initial: 10}})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(v.Sample(now, 100*time.Millisecond, 10, false)) // learns the baseline
	fmt.Println(v.Sample(now, 100*time.Millisecond, 10, false)) // no queue: grows
	fmt.Println(v.Sample(now, 400*time.Millisecond, 11, false)) // 4× the baseline: shrinks
	// Output:
	// 10
	// 11
	// 9
}

func ExampleNew() {
	alg, err := adaptive.New(adaptive.NameGradient2, adaptive.Bounds{Min: 5, Max: 200, Initial: 40})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(alg.Limit())
	_, err = adaptive.New("bbr", adaptive.Bounds{})
	fmt.Println(err)
	// Output:
	// 40
	// adaptive: algorithm: "bbr" is not one of "gradient2", "vegas", "aimd"
}
