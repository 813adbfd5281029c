package admin

import (
	"net/http"
	"slices"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// DependencyGraph is wire.DependencyGraph.
type DependencyGraph = wire.DependencyGraph

// dependencies serves GET /v1/dependencies: the dependency graph of the
// existing guards (a policy's dependsOn) with each guard's state and cause
// chain; with ?guard=NAME, that guard's node alone. It reads every guard
// and needs read access.
func (s *Server) dependencies(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	if name := r.URL.Query().Get("guard"); name != "" {
		g, ok := s.reg.Lookup(name)
		if !ok {
			p := problem(http.StatusNotFound, codeUnknownGuard, "guard: no guard is called "+quote(name))
			p.Guard = name
			writeProblem(w, r, p)
			return
		}
		writeJSON(w, r, http.StatusOK, DependencyGraph{Guards: []wire.DependencyNode{dependencyNode(s.reg, g.Name())}, Edges: []wire.DependencyEdge{}})
		return
	}
	writeJSON(w, r, http.StatusOK, dependencyGraph(s.reg))
}

func dependencyGraph(reg *core.Registry) DependencyGraph {
	out := DependencyGraph{Guards: []wire.DependencyNode{}, Edges: []wire.DependencyEdge{}}
	var names []string
	for _, d := range reg.Dependencies() {
		out.Edges = append(out.Edges, wire.DependencyEdge{Guard: d.Guard, On: d.On})
		names = append(names, d.Guard, d.On)
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		out.Guards = append(out.Guards, dependencyNode(reg, n))
	}
	return out
}

// dependencyNode describes the guard called name; a dependency that has no
// guard yet is "absent".
func dependencyNode(reg *core.Registry, name string) wire.DependencyNode {
	n := wire.DependencyNode{Name: name, State: "absent", Causes: reg.Causes(name)}
	if g, ok := reg.Lookup(name); ok {
		n.State = g.Breaker().State().String()
	}
	return n
}
