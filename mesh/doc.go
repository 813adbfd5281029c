// Package mesh turns breakerbox policy documents (core.Document) into
// service-mesh configuration: an Istio DestinationRule and VirtualService,
// Linkerd annotations and a Gateway API HTTPRoute, or an Envoy Cluster, per
// policy, with a loss report of what the mesh cannot express.
//
// It is a module of its own (github.com/breakerbox/breakerbox/mesh), so that
// the root module stays standard-library only; `breakerctl mesh export` is
// its command line.
//
//	res, err := mesh.Export(doc, mesh.Istio, mesh.Options{Service: "inventory"})
//	if err != nil { ... }
//	out, err := res.YAML() // the loss report as comments, then the objects
//
// # What is exported
//
// Each policy is resolved first: its extends chain (parents in the document
// and built-in presets, "preset:<name>") and then the documented defaults of
// core's policy sections, so that a policy without a breaker section still
// exports the default breaker (50% failure rate, 30s open) the guard really
// has. The destination host is Options.Service, or the first match pattern
// of the policy that is a plain host name, or else the policy's name.
//
// Outlier detection (Istio, Envoy) and failure accrual (Linkerd) eject one
// endpoint at a time, where a breakerbox breaker stops every call of its
// guard; connection pools and circuit-breaker thresholds bound requests per
// client proxy. The mapping of each field, and why some fields cannot be
// mapped, is in docs/mesh.md.
//
// # Loss report
//
// Result.Loss lists, per policy, what the mesh cannot express (Lost), what
// it expresses with different semantics (Approximated) and what deserves
// attention (Warning), among them the multiplication of retries: a mesh
// that retries a call the application also retries sends up to
// attempts_app × attempts_mesh requests.
//
// # Validation
//
// Envoy clusters are built with go-control-plane's generated types and
// checked with their ValidateAll before they are printed; the tests read
// them back through protojson. The tests validate the Istio and Linkerd
// objects against the published CRD schemas kept in testdata/crds.
package mesh
