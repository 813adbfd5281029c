package wire

// VariantReport is the answer to GET /v1/variants: every live variant of
// the policy document compared with its control, in the document's order,
// and the figures of the tenant guards.
type VariantReport struct {
	Variants []Variant `json:"variants"`
	Tenants  Tenants   `json:"tenants"`
}

// Variant compares one variant with its control (core.VariantStats).
//
// For an enforced variant, Variant adds up the variant's guards and Control
// the guards they vary (with the calls outside the segment). For a shadow
// variant both arms count the segment's calls: Control as the control
// guards judged them, Variant as the shadow breakers would have; its
// rejections and trips are would-be ones, never enforced.
type Variant struct {
	Name      string  `json:"name"`
	Policy    string  `json:"policy"`
	Percent   float64 `json:"percent,omitempty"`
	Attribute string  `json:"attribute,omitempty"`
	Shadow    bool    `json:"shadow,omitempty"`
	Control   Arm     `json:"control"`
	Variant   Arm     `json:"variant"`
}

// Arm is one arm of a variant (core.ArmStats).
type Arm struct {
	// Guards is the number of guards (or shadow breakers) in the arm.
	Guards int `json:"guards"`
	// Calls counts the calls admitted or rejected; Succeeded and Failed
	// the admitted ones by outcome.
	Calls     uint64 `json:"calls"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	// FailureRate is Failed as a percentage of Succeeded+Failed.
	FailureRate float64 `json:"failureRate"`
	// Rejections and Trips count rejected calls and transitions to open
	// (would-be ones in a shadow variant's Variant arm).
	Rejections uint64 `json:"rejections"`
	Trips      uint64 `json:"trips"`
}

// Tenants describes the tenant guards (core.TenantStats): how many exist,
// their bound, and the calls that got their base guard because the bound
// was reached (a counter that only grows).
type Tenants struct {
	Guards    int    `json:"guards"`
	MaxGuards int    `json:"maxGuards"`
	Overflow  uint64 `json:"overflow"`
}
