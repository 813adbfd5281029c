package throttle_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core/throttle"
)

func Example() {
	call := func() error { return errors.New("503 Service Unavailable") }
	guarded := func() error {
		th, err := throttle.New(throttle.Config{K: 2, Window: 2 * time.Minute})
		if err != nil {
			log.Fatal(err)
		}
		now := time.Now()
		if !th.Allow(now) {
			return throttle.ErrThrottled
		}
		err = call()
		th.Record(time.Now(), err == nil)
		return err
	}
	fmt.Println(guarded())
	// Output: 503 Service Unavailable
}

func ExampleThrottler_Probability() {
	th, _ := throttle.New(throttle.Config{K: 2, Window: time.Minute})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 { // 10 requests, 3 accepted
		th.Record(now, i < 3)
	}
	// (10 − 2·3) / (10 + 1)
	fmt.Printf("%.4f\n", th.Probability(now))
	// Output: 0.3636
}
