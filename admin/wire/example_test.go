package wire_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// A client builds the path of a guard whose name holds slashes, such as a
// gRPC method's, and an operation's body, without importing the server.
func Example() {
	fmt.Println("GET /admin" + wire.GuardPath("/payments.Payments/Charge"))

	body, err := json.Marshal(wire.OperationRequest{
		Tag:      "stripe",
		Reason:   "provider maintenance",
		Duration: core.Duration(30 * time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("POST /admin/v1/operations/" + string(wire.OpOpen))
	fmt.Println(string(body))
	// Output:
	// GET /admin/v1/guards/%2Fpayments.Payments%2FCharge
	// POST /admin/v1/operations/open
	// {"tag":"stripe","reason":"provider maintenance","duration":"30m0s"}
}

// A target selects guards by exactly one of name, tag and all.
func ExampleTarget_Selector() {
	sel, err := wire.Target{Tag: "stripe"}.Selector()
	fmt.Println(sel, err)
	_, err = wire.Target{Name: "payments.charge", All: true}.Selector()
	fmt.Println(err)
	// Output:
	// tag "stripe" <nil>
	// name, tag and all are exclusive: set exactly one
}
