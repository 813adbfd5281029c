package replay_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/record"
	"github.com/breakerbox/breakerbox/replay"
)

// Replaying a recorded outage under a stricter policy: what would it have
// done?
func ExampleRun() {
	recording := `{"kind":"header","format":1,"sampleEvery":1}
{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:02Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:03Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:04Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:05Z","guard":"payments","result":"success","latencyNs":50000000}
`
	rec, err := record.Read(strings.NewReader(recording), 0)
	if err != nil {
		panic(err)
	}
	strict := core.Policy{Name: "strict", Match: []string{"*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2, OpenDuration: core.Duration(10 * time.Second)}}
	rep, err := replay.Run(rec, core.Document{Policies: []core.Policy{strict}})
	if err != nil {
		panic(err)
	}
	g := rep.Guards[0]
	fmt.Printf("%s under %s: trips %d -> %d, failed %d -> %d, rejected %d -> %d, open for %s\n",
		g.Guard, g.Policy, g.Recorded.Trips, g.Replayed.Trips, g.Recorded.Failed, g.Replayed.Failed,
		g.Recorded.Rejected, g.Replayed.Rejected, g.Replayed.TimeOpen)
	// Output:
	// payments under strict: trips 0 -> 1, failed 4 -> 2, rejected 0 -> 3, open for 3s
}
