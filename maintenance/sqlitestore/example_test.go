package sqlitestore_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/maintenance"
	"github.com/breakerbox/breakerbox/maintenance/sqlitestore"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "windows")
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(filepath.Join(dir, "maintenance.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	reg, _ := core.NewRegistry()
	sched, err := maintenance.Open(reg, maintenance.WithStore(store))
	if err != nil {
		fmt.Println(err)
		return
	}
	sched.Start()
	defer sched.Close()
	fmt.Println(len(sched.Windows()), "windows")
	// Output: 0 windows
}
