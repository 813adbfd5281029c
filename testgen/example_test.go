package testgen_test

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/testgen"
)

// Generating the tests that pin a policy: the file's tests, one per
// behaviour, each named after it.
func ExampleGenerate() {
	doc := core.Document{Policies: []core.Policy{{
		Name:  "payments",
		Match: []string{"payments.*"},
		Breaker: &core.BreakerPolicy{
			ConsecutiveFailures: 5,
			DisableFailureRate:  true,
			OpenDuration:        core.Duration(30 * time.Second),
			HalfOpenProbes:      2,
		},
		Retry: &core.RetryPolicy{MaxAttempts: 3, Jitter: "none"},
	}}}
	src, err := testgen.Generate(doc, testgen.Options{Source: "payments.yaml", Package: "payments_test"})
	if err != nil {
		panic(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "func Test"); ok {
			fmt.Println("Test" + name[:strings.IndexByte(name, '(')])
		}
	}
	// Output:
	// TestPayments_PaymentsSample_Policy
	// TestPayments_PaymentsSample_TripsAfterConsecutiveFailures
	// TestPayments_PaymentsSample_CountWindowSize
	// TestPayments_PaymentsSample_StaysOpenForOpenDuration
	// TestPayments_PaymentsSample_HalfOpenProbes
	// TestPayments_PaymentsSample_ProbesCloseAfterSuccessThreshold
	// TestPayments_PaymentsSample_FailedProbeReopens
	// TestPayments_PaymentsSample_LostProbeReopensAfterProbeTimeout
	// TestPayments_PaymentsSample_RetryAttempts
}
