package maintenance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/maintenance"
)

// A scheduler that keeps the API's windows in a file and follows the
// policy documents' windows.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "maintenance")
	defer os.RemoveAll(dir)
	reg, _ := core.NewRegistry()
	sched, err := maintenance.Open(reg,
		maintenance.WithStore(maintenance.NewFileStore(filepath.Join(dir, "windows.json"))),
		maintenance.FollowPolicy())
	if err != nil {
		fmt.Println(err)
		return
	}
	sched.Start()
	defer sched.Close()

	reg.MustGuard("db.main")
	_, err = sched.AddWindow(context.Background(), maintenance.Window{
		Name: "upgrade", Guard: "db.main", Action: "open", Schedule: "0 3 * * SUN", Duration: "2h", Reason: "weekly upgrade",
	}, "alice")
	fmt.Println("API window:", err)

	_, err = reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "db", Match: []string{"db.*"}, Tags: []string{"db"}}},
		Maintenance: []core.MaintenanceWindow{{
			Name: "vacuum", Tags: []string{"db"}, Mode: "metrics-only",
			Schedule: "30 2 * * *", Duration: core.Duration(time.Hour), TimeZone: "Europe/Berlin",
		}},
	}, core.AppliedBy("carol"))
	fmt.Println("document:", err)

	_, err = reg.Apply(core.Document{Maintenance: []core.MaintenanceWindow{{
		Name: "bad", Tags: []string{"db"}, Mode: "metrics-only", Schedule: "30 2 * * MON-FUN", Duration: core.Duration(time.Hour),
	}}})
	fmt.Println("refused:", err)

	for _, w := range sched.Windows() {
		fmt.Printf("%s source=%q by %s\n", w.Name, w.Source, w.CreatedBy)
	}
	// Unordered output:
	// API window: <nil>
	// document: <nil>
	// refused: core: policy document refused: maintenance[0].schedule: is not a five-field cron expression or a descriptor such as "@daily": failed to parse int from FUN: strconv.Atoi: parsing "FUN": invalid syntax (value "30 2 * * MON-FUN")
	// vacuum source="policy" by carol
	// upgrade source="" by alice
}
