package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/breakerbox/breakerbox/fleet/region"
)

// The region endpoints show every region side by side, from the summaries
// this replica last read (multi-region fleet mode, issue 26):
//
//	GET /v1/regions                              every region and the global guards (read)
//	GET /v1/regions/{region}/guards              one region's guards (read)
//	GET /v1/regions/{region}/guards?guard=NAME   "is NAME open in region?" (read)
//
// Guard names may hold slashes, so the guard is a query parameter, as in
// /v1/machines. Without WithRegions they answer 404 regions_off; an
// unknown region (or one whose summary expired) answers 404
// unknown_region, a guard the region's summary does not name 404
// unknown_guard.

// Regions is what the admin API needs of a region agent (*region.Agent,
// from region.Join, implements it). Both methods read memory only and must
// be safe for concurrent use.
type Regions interface {
	// Regions returns what this replica knows of every region.
	Regions() region.Report
	// RegionState answers whether guard is open in region.
	RegionState(guard, region string) (region.RegionGuardState, bool)
}

// WithRegions serves the region endpoints from r.
func WithRegions(r Regions) Option {
	return optionFunc(func(c *config) error {
		if r == nil {
			return errors.New("admin: WithRegions: the region agent must not be nil")
		}
		c.regions = r
		return nil
	})
}

const (
	codeRegionsOff    = "regions_off"
	codeUnknownRegion = "unknown_region"
)

func (s *Server) regionRoutes(v string) {
	s.handle(v+"/regions", methods{http.MethodGet: s.regionReport})
	s.handle(v+"/regions/{region}/guards", methods{http.MethodGet: s.regionGuards})
}

// regionsOf authorizes a read and returns the region agent, or answers.
func (s *Server) regionsOf(w http.ResponseWriter, r *http.Request) (Regions, bool) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return nil, false
	}
	if s.cfg.regions == nil {
		writeProblem(w, r, problem(http.StatusNotFound, codeRegionsOff, "this replica reads no region summaries: the server was built without admin.WithRegions"))
		return nil, false
	}
	return s.cfg.regions, true
}

// regionReport serves GET /v1/regions.
func (s *Server) regionReport(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.regionsOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, rs.Regions())
}

// regionGuards serves GET /v1/regions/{region}/guards[?guard=NAME].
func (s *Server) regionGuards(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.regionsOf(w, r)
	if !ok {
		return
	}
	name := r.PathValue("region")
	if r.URL.Query().Has("guard") {
		guard := r.URL.Query().Get("guard")
		if guard == "" {
			writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "guard: must not be empty"))
			return
		}
		st, ok := rs.RegionState(guard, name)
		if ok {
			writeJSON(w, r, http.StatusOK, st)
			return
		}
		if _, known := regionView(rs.Regions(), name); !known {
			writeProblem(w, r, unknownRegion(name))
			return
		}
		p := problem(http.StatusNotFound, codeUnknownGuard, "guard: the summary of region "+quote(name)+" names no guard "+quote(guard))
		p.Guard = guard
		writeProblem(w, r, p)
		return
	}
	v, known := regionView(rs.Regions(), name)
	if !known {
		writeProblem(w, r, unknownRegion(name))
		return
	}
	writeJSON(w, r, http.StatusOK, v)
}

func regionView(rep region.Report, name string) (region.RegionView, bool) {
	for _, v := range rep.Regions {
		if v.Region == name {
			return v, true
		}
	}
	return region.RegionView{}, false
}

func unknownRegion(name string) *Problem {
	return problem(http.StatusNotFound, codeUnknownRegion, "region: no unexpired summary of region "+quote(name))
}

// RegionsHealth is implemented by a Regions value that reports its stores'
// health (*region.Agent does). With it, /health warns while the region
// store or a relay link is down.
type RegionsHealth interface {
	// Health returns the region store's and the relay's health, from
	// memory.
	Health() region.Health
}

// regionsHealthKey is the key of the regions' check in a /health document.
const regionsHealthKey = "regions"

// addRegionsHealth adds the region store's and relay links' health to a
// /health document: while one is down, a check that warns (a pass becomes
// a warn, a fail stays a fail). The multi-region view being degraded
// never fails the document: guards keep deciding in their region.
func (h *healthHandler) addRegionsHealth(doc *Health, now time.Time) {
	rh, ok := h.cfg.regions.(RegionsHealth)
	if !ok || h.cfg.regions == nil {
		return
	}
	st := rh.Health()
	if st.Up() {
		return
	}
	const what = "region summaries degraded (region store or relay link down)"
	if doc.Status == StatusPass {
		doc.Status = StatusWarn
		doc.Output = what
	} else {
		doc.Output += "; " + what
	}
	if h.cfg.healthSummary {
		return
	}
	var checks []Check
	add := func(s region.StoreHealth, what string) {
		c := Check{ComponentID: what + ":" + s.Region, ComponentType: "datastore", ObservedValue: "down", Status: StatusWarn, Time: s.Since, Output: s.LastError}
		if c.Time.IsZero() {
			c.Time = now
		}
		if c.Output == "" {
			c.Output = "unreachable"
		}
		checks = append(checks, c)
	}
	if !st.Store.Up {
		add(st.Store, "store")
	}
	if st.Relay != nil {
		for _, l := range st.Relay.Links {
			if !l.Up {
				add(l, "relay")
			}
		}
	}
	if doc.Checks == nil {
		doc.Checks = map[string][]Check{}
	}
	doc.Checks[regionsHealthKey] = checks
}
