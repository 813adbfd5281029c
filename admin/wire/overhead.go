package wire

import "github.com/breakerbox/breakerbox/core"

// OverheadStatus is what a guard measured of its own cost
// (core.OverheadSnapshot): the mean time its gates and its report took on
// about one call in SampleEvery.
type OverheadStatus struct {
	SampleEvery int    `json:"sampleEvery"`
	Samples     uint64 `json:"samples"`
	// Gates, Report and PerCall (their sum) are means; Max is the longest
	// sampled.
	Gates   core.Duration `json:"gates"`
	Report  core.Duration `json:"report"`
	PerCall core.Duration `json:"perCall"`
	Max     core.Duration `json:"max"`
}
