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

// Replaying a recording that names two policy versions, following them:
// version 2, live from 12:00:10, trips on two failures in a row.
func ExampleRunWith() {
	recording := `{"kind":"header","format":1,"sampleEvery":1}
{"kind":"policy","at":"2026-03-01T12:00:00Z","version":1}
{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:02Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:03Z","guard":"payments","result":"success","latencyNs":50000000}
{"kind":"policy","at":"2026-03-01T12:00:10Z","version":2}
{"kind":"call","at":"2026-03-01T12:00:11Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:12Z","guard":"payments","result":"failure","latencyNs":50000000}
{"kind":"call","at":"2026-03-01T12:00:13Z","guard":"payments","result":"success","latencyNs":50000000}
`
	rec, err := record.Read(strings.NewReader(recording), 0)
	if err != nil {
		panic(err)
	}
	versions := map[uint64]int{1: 5, 2: 2} // version -> consecutive failures
	byVersion := func(v uint64) (core.Document, error) {
		k, ok := versions[v]
		if !ok {
			return core.Document{}, fmt.Errorf("no version %d", v)
		}
		return core.Document{Policies: []core.Policy{{Name: fmt.Sprint("v", v), Match: []string{"*"},
			Breaker: &core.BreakerPolicy{ConsecutiveFailures: k, OpenDuration: core.Duration(30 * time.Second)}}}}, nil
	}
	rep, err := replay.RunWith(rec, core.Document{}, replay.Options{Versions: byVersion})
	if err != nil {
		panic(err)
	}
	for i, s := range rep.Guards[0].Segments {
		fmt.Printf("version %d (replayed under %d): trips %d, rejected %d\n", rep.Segments[i].Version, rep.Segments[i].ReplayedVersion, s.Replayed.Trips, s.Replayed.Rejected)
	}
	// Output:
	// version 1 (replayed under 1): trips 0, rejected 0
	// version 2 (replayed under 2): trips 1, rejected 1
}
