package admin

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

// GET /v1/quotas shows the coordinators' and limiters' stats with a read
// token; 404 quotas_off without WithQuotas; 401 without a token.
func TestQuotasEndpoint(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	res := quota.Resource{Name: "openai", Capacity: 100, SafeCapacity: 10, RefreshEvery: 50 * time.Millisecond}
	root, eu := fleet.NewMemoryStore(), fleet.NewMemoryStore()
	c, err := quota.NewCoordinator(res, root, eu, "eu", "pod-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l, err := quota.NewLimiter(res, eu, "pod-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var set quota.Set
	set.AddCoordinator(c)
	set.AddLimiter(l)
	l.Allow()

	a := newTestAPIFor(t, reg, WithQuotas(&set))
	a.do(http.MethodGet, "/v1/quotas", "", nil).problem(t, http.StatusUnauthorized, codeUnauthorized)
	eventually(t, "the region coordinator on a lease", func() bool {
		var rep QuotasReport
		a.do(http.MethodGet, "/v1/quotas", readSecret, nil).ok(t, &rep)
		if len(rep.Resources) != 1 {
			return false
		}
		r := rep.Resources[0]
		return r.Resource == "openai" && r.Capacity == 100 && r.Region == "eu" && r.Coordinator != nil && r.Coordinator.Region &&
			r.Limiter != nil && r.Limiter.Allowed == 1
	})

	off := newTestAPIFor(t, reg)
	off.do(http.MethodGet, "/v1/quotas", readSecret, nil).problem(t, http.StatusNotFound, codeQuotasOff)
	if _, err := New(reg, WithQuotas(nil)); err == nil {
		t.Fatal("WithQuotas(nil) accepted")
	}
}

// Serve the global limits of this process in GET /v1/quotas.
func ExampleWithQuotas() {
	reg, _ := core.NewRegistry()
	res := quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 100}
	lim, _ := quota.NewLimiter(res, fleet.NewMemoryStore(), "pod-1")
	defer lim.Close()
	var quotas quota.Set
	quotas.AddLimiter(lim)
	srv, err := New(reg, WithToken("grafana", "read-secret-0123456789", Read), WithQuotas(&quotas))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(len(quotas.Stats()))
	// Output: 1
}
