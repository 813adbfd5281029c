package admin

import (
	"net/http"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// variants serves GET /v1/variants: the live variants compared with their
// controls, and the tenant guards' figures (wire.VariantReport). Its cost
// grows with the variants' guards, not the registry's; it needs read
// access.
func (s *Server) variants(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, variantReport(s.reg))
}

func variantReport(reg *core.Registry) wire.VariantReport {
	vs := reg.Variants()
	out := wire.VariantReport{Variants: make([]wire.Variant, len(vs))}
	for i, v := range vs {
		out.Variants[i] = wire.Variant{
			Name: v.Name, Policy: v.Policy, Percent: v.Percent, Attribute: v.Attribute, Shadow: v.Shadow,
			Control: wireArm(v.Control), Variant: wireArm(v.Variant),
		}
	}
	t := reg.TenantStats()
	out.Tenants = wire.Tenants{Guards: t.Guards, MaxGuards: t.MaxGuards, Overflow: t.Overflow}
	return out
}

func wireArm(a core.ArmStats) wire.Arm {
	return wire.Arm{Guards: a.Guards, Calls: a.Calls, Succeeded: a.Succeeded, Failed: a.Failed, FailureRate: a.FailureRate, Rejections: a.Rejections, Trips: a.Trips}
}
