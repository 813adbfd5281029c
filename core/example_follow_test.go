package core_test

import (
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// logFollower prints what it is given of the maintenance section; a real
// follower (package maintenance's scheduler) checks the windows and
// schedules them.
type logFollower struct{}

func (logFollower) Section() string { return "maintenance" }

func (logFollower) CheckDocument(doc core.Document, _ time.Time) []core.Problem {
	var probs []core.Problem
	for i, w := range doc.Maintenance {
		if w.Name == "forbidden" {
			probs = append(probs, core.Problem{Path: fmt.Sprintf("maintenance[%d].name", i), Value: `"forbidden"`, Message: "is not allowed here"})
		}
	}
	return probs
}

func (logFollower) DocumentApplied(doc core.Document, a core.AppliedDocument) {
	fmt.Printf("version %d by %s: %d windows\n", a.Version, a.Actor, len(doc.Maintenance))
}

func ExampleRegistry_Follow() {
	reg, _ := core.NewRegistry()
	unfollow, _ := reg.Follow(logFollower{}) // given the live document at once
	defer unfollow()
	w := core.MaintenanceWindow{Name: "nightly", Tags: []string{"db"}, Mode: core.MaintenanceMetricsOnly, Schedule: "@daily", Duration: core.Duration(time.Hour)}
	_, err := reg.Apply(core.Document{Maintenance: []core.MaintenanceWindow{w}}, core.AppliedBy("carol"))
	fmt.Println(err)
	w.Name = "forbidden"
	_, err = reg.Apply(core.Document{Maintenance: []core.MaintenanceWindow{w}})
	fmt.Println(err)
	// Output:
	// version 0 by policy: 0 windows
	// version 1 by carol: 1 windows
	// <nil>
	// core: policy document refused: maintenance[0].name: is not allowed here (value "forbidden")
}
