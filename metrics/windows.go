package metrics

// WindowState splits MaintenanceWindows into the windows in force now
// ("active") and those that will start later ("upcoming").
var WindowState = Attribute{Key: "breakerbox.maintenance.state", Label: "state"}

// WindowCounter counts a registry's maintenance windows; package
// maintenance's Scheduler implements it. Exporters given one (each has a
// WithWindows option) render MaintenanceWindows from it.
type WindowCounter interface {
	// WindowCounts returns how many windows are in force now and how many
	// will start later (a one-off window that has ended is neither). It
	// must be cheap and must not block: it is called at every collection.
	WindowCounts() (active, upcoming int)
}

// MaintenanceWindows describes the count of a registry's maintenance
// windows, by state. Unlike the metrics of Table it belongs to the
// registry as a whole: its series carry no guard or policy attribute, only
// WindowState, and it is read from a WindowCounter, not from a guard's
// snapshot (Read is nil). Prometheus: breakerbox_maintenance_windows{state};
// Datadog: breakerbox.maintenance.windows with the tag state.
func MaintenanceWindows() Metric {
	return Metric{
		Name: "breakerbox.maintenance.windows", Unit: "{window}", Kind: Gauge, Integer: true,
		Description: "Maintenance windows of the registry, by state: active (in force now) or upcoming (to start later).",
		Attribute:   WindowState, Values: []string{"active", "upcoming"},
	}
}
