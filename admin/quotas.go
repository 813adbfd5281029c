package admin

import (
	"errors"
	"net/http"

	"github.com/breakerbox/breakerbox/fleet/quota"
)

// The quota endpoint shows the global limits this process takes part in
// (hierarchical leases, fleet/quota; issue 26):
//
//	GET /v1/quotas   every resource: its coordinator's and limiter's stats (read)
//
// Without WithQuotas it answers 404 quotas_off.

// Quotas is what the admin API needs of the global limits of this process
// (*quota.Set implements it). Stats reads memory only, never a store, and
// must be safe for concurrent use.
type Quotas interface {
	// Stats returns every resource, by name.
	Stats() []quota.ResourceStats
}

// WithQuotas serves GET /v1/quotas from q.
func WithQuotas(q Quotas) Option {
	return optionFunc(func(c *config) error {
		if q == nil {
			return errors.New("admin: WithQuotas: the quotas must not be nil")
		}
		c.quotas = q
		return nil
	})
}

const codeQuotasOff = "quotas_off"

// QuotasReport is the answer of GET /v1/quotas.
type QuotasReport struct {
	Resources []quota.ResourceStats `json:"resources"`
}

func (s *Server) quotaRoutes(v string) {
	s.handle(v+"/quotas", methods{http.MethodGet: s.quotasReport})
}

// quotasReport serves GET /v1/quotas.
func (s *Server) quotasReport(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	if s.cfg.quotas == nil {
		writeProblem(w, r, problem(http.StatusNotFound, codeQuotasOff, "this process shares no global limit: the server was built without admin.WithQuotas"))
		return
	}
	rep := QuotasReport{Resources: s.cfg.quotas.Stats()}
	if rep.Resources == nil {
		rep.Resources = []quota.ResourceStats{}
	}
	writeJSON(w, r, http.StatusOK, rep)
}
