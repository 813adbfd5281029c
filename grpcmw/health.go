package grpcmw

import (
	"context"
	"sort"
	"sync"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Health keeps the serving statuses of a standard grpc.health.v1 server
// (grpc-go's health.Server) in step with a registry's guards:
//
//   - a service is NOT_SERVING while any critical guard mapped to it (see
//     core.Policy.Critical and HealthMapping) is open or forced open, and
//     SERVING again once all of them have left those states. A half-open
//     guard counts as serving: a load balancer that keeps traffic away from
//     a half-open breaker would starve its probes and keep it from closing.
//   - the overall service "" follows the process's readiness, set with
//     SetReady, and never a single breaker: one open dependency must not take
//     a whole process out of its load balancer.
//
// Health subscribes to the registry's state changes (Registry.AddHooks); it
// costs nothing per call. It is safe for concurrent use.
type Health struct {
	reg        *core.Registry
	hs         *health.Server
	servicesOf func(*core.Guard) []string

	mu    sync.Mutex
	down  map[string]map[string]struct{} // service -> its open critical guards
	known map[string]bool                // services whose status Health has set
}

// HealthOption configures NewHealth.
type HealthOption interface {
	applyHealth(*Health)
}

type healthOptionFunc func(*Health)

func (f healthOptionFunc) applyHealth(h *Health) { f(h) }

// HealthServices declares services whose status Health manages from the
// start: SERVING unless a critical guard mapped to them is open already.
// Services are otherwise added on the first state change of a critical
// guard mapped to them.
func HealthServices(services ...string) HealthOption {
	return healthOptionFunc(func(h *Health) {
		for _, s := range services {
			h.known[s] = false // declared; set by NewHealth
		}
	})
}

// HealthMapping sets the services a guard's state counts for. f is called
// for critical guards only, on their state changes, and may return several
// services or none. The default, DefaultHealthMapping, reads the service
// from the guard's name, which suits the server interceptors' guards; map
// client-side guards (a dependency's) to the services that need them, by
// name or by tag (guard.HasTag).
func HealthMapping(f func(g *core.Guard) []string) HealthOption {
	return healthOptionFunc(func(h *Health) {
		if f != nil {
			h.servicesOf = f
		}
	})
}

// DefaultHealthMapping maps a guard to the service its name starts with, as
// named by MethodKey, ServiceKey and MetadataKey: "pkg.Service" for
// "/pkg.Service/Method", "pkg.Service" and "/pkg.Service/Method@tenant".
func DefaultHealthMapping(g *core.Guard) []string {
	s := serviceOf(g.Name())
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			s = s[:i]
			break
		}
	}
	if s == "" {
		return nil
	}
	return []string{s}
}

// NewHealth wires reg's critical guards to hs and returns the wiring.
// It sets the status of every declared service and of every service with a
// critical guard now, from the guards' current states, then follows their
// state changes. hs's overall service "" is left as it is until SetReady.
// Neither reg nor hs may be nil. Call it once per registry and health server:
// its subscription to reg lasts as long as reg.
func NewHealth(reg *core.Registry, hs *health.Server, opts ...HealthOption) *Health {
	h := &Health{
		reg:        reg,
		hs:         hs,
		servicesOf: DefaultHealthMapping,
		down:       make(map[string]map[string]struct{}),
		known:      make(map[string]bool),
	}
	for _, o := range opts {
		if o != nil {
			o.applyHealth(h)
		}
	}
	reg.AddHooks(core.Hooks{OnStateChange: h.stateChanged})

	h.mu.Lock()
	declared := make([]string, 0, len(h.known))
	for s := range h.known {
		declared = append(declared, s)
	}
	h.mu.Unlock()
	sort.Strings(declared)

	// Guards that exist now; later changes arrive through the hook. Each
	// guard's state is read under h.mu, so a change the hook applies after
	// it is a newer one (a guard's changes arrive in order).
	guards, _ := reg.Guards(core.All())
	for _, g := range guards {
		if g.Critical() {
			services := h.servicesOf(g)
			h.mu.Lock()
			h.updateLocked(g.Name(), services, unhealthy(g.Breaker().State()))
			h.mu.Unlock()
		}
	}
	h.mu.Lock()
	for _, s := range declared {
		if !h.known[s] {
			h.known[s] = true
			h.hs.SetServingStatus(s, servingStatus(len(h.down[s]) == 0))
		}
	}
	h.mu.Unlock()
	return h
}

// SetReady sets the overall service "" to SERVING or NOT_SERVING: call it
// with true once the process is ready to take traffic, and with false when
// it starts draining. (health.Server.Shutdown sets every service NOT_SERVING
// for good.)
func (h *Health) SetReady(ready bool) {
	h.hs.SetServingStatus("", servingStatus(ready))
}

// Down returns the names of the critical guards, sorted, that hold service
// NOT_SERVING now; none when it is serving.
func (h *Health) Down(service string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.down[service]))
	for n := range h.down[service] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (h *Health) stateChanged(_ context.Context, e core.StateChange) {
	g, ok := h.reg.Lookup(e.Guard)
	if !ok || !g.Critical() {
		return
	}
	services := h.servicesOf(g)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.updateLocked(g.Name(), services, unhealthy(e.To))
}

// updateLocked records whether the critical guard called name is down and
// updates the status of its services where that changed.
func (h *Health) updateLocked(name string, services []string, isDown bool) {
	for _, svc := range services {
		set := h.down[svc]
		was := len(set) > 0
		if isDown {
			if set == nil {
				set = make(map[string]struct{})
				h.down[svc] = set
			}
			set[name] = struct{}{}
		} else if set != nil {
			delete(set, name)
			if len(set) == 0 {
				delete(h.down, svc)
			}
		}
		now := len(set) > 0
		if !h.known[svc] || was != now {
			h.known[svc] = true
			// Under h.mu, so that the health server sees one service's
			// changes in the order they were decided.
			h.hs.SetServingStatus(svc, servingStatus(!now))
		}
	}
}

// unhealthy reports whether a critical guard in state s takes its services
// out of serving.
func unhealthy(s breaker.State) bool {
	return s == breaker.Open || s == breaker.ForcedOpen
}

func servingStatus(ok bool) healthpb.HealthCheckResponse_ServingStatus {
	if ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}
