package grpcmw

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/core"
)

// ServiceInfoProvider lists services and their methods, for Validate. A
// *grpc.Server is one (its registered services); Services makes one from
// service descriptors, for a client.
type ServiceInfoProvider interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// Services returns the services of descs, such as the generated
// pb.Payments_ServiceDesc, for Validate on a client, which has no server to
// list them. Nil descriptors are skipped.
func Services(descs ...*grpc.ServiceDesc) ServiceInfoProvider {
	return serviceDescs(descs)
}

type serviceDescs []*grpc.ServiceDesc

func (ds serviceDescs) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := make(map[string]grpc.ServiceInfo, len(ds))
	for _, d := range ds {
		if d == nil {
			continue
		}
		info := out[d.ServiceName]
		for _, m := range d.Methods {
			info.Methods = append(info.Methods, grpc.MethodInfo{Name: m.MethodName})
		}
		for _, s := range d.Streams {
			info.Methods = append(info.Methods, grpc.MethodInfo{Name: s.StreamName,
				IsClientStream: s.ClientStreams, IsServerStream: s.ServerStreams})
		}
		info.Metadata = d.Metadata
		out[d.ServiceName] = info
	}
	return out
}

// Validate checks reg against the methods of services as the interceptors
// built with opts will guard them, so that a policy that does not apply
// where it was meant to is reported when the process starts rather than
// found during an incident:
//
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
//		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
//	testpb.RegisterTestServiceServer(srv, &testServer{})
//	if err := grpcmw.Validate(reg, srv, opts...); err != nil {
//		log.Fatal(err)
//	}
//
// On a client, pass the services it calls, such as
// grpcmw.Services(&testpb.TestService_ServiceDesc).
//
// For every method that opts guard (WithMatcher and WithSelector decide, as
// for a call: the selector sees a CallMeta without a request, on the
// server side unless services is a Services list), Validate names the
// guard with the KeyFunc (given context.Background(), so MetadataKey gives
// the name of a call without the header) and reports, joined, in the order
// of the services' and methods' names:
//
//   - a guard that would get the registry's default policy because no
//     policy is named after it or matches it (most likely a typo in a Match
//     pattern); to give such methods the default policy on purpose, match
//     them with a pattern (Match: []string{"/**"}) or use WithPolicy;
//   - a guard whose explicit policy (WithPolicy, core.UsePolicy) the
//     registry does not have;
//   - a Match pattern of a policy of the form "/service/method" whose
//     service part selects one of the services (by name, or as a pattern
//     such as "*") but which matches none of the guards: a typo in the
//     method part, a method that was renamed, or a pattern of the full
//     method under a KeyFunc that names guards otherwise (ServiceKey).
//     Patterns aimed at other services, HTTP routes or hosts of the same
//     registry are left alone.
//
// A guard is reported once, for the first of its methods. Validate creates
// the guard of every guarded method (with the options' policy and guard
// options), as a first call would, so that the guards are listed in
// snapshots and the dashboard, and can be forced open or disabled, before
// the first call; a guard that exists already is taken as it is. It returns
// nil when all is well.
func Validate(reg *core.Registry, services ServiceInfoProvider, opts ...Option) error {
	if reg == nil {
		return errors.New("grpcmw: Validate needs a registry")
	}
	if services == nil {
		return errors.New("grpcmw: Validate needs services: a *grpc.Server, or grpcmw.Services(descs...)")
	}
	c := newConfig(reg, opts)
	_, client := services.(serviceDescs)
	infos := services.GetServiceInfo()
	svcs := make([]string, 0, len(infos))
	for name := range infos {
		svcs = append(svcs, name)
	}
	slices.Sort(svcs)

	if c.policy != "" {
		if _, err := reg.Policy(c.policy); err != nil {
			return fmt.Errorf("grpcmw: WithPolicy(%q): %w", c.policy, err)
		}
	}
	var errs []error
	var names []string // the guards' names, for the patterns
	ctx := context.Background()
	for _, svc := range svcs {
		methods := slices.Clone(infos[svc].Methods)
		slices.SortFunc(methods, func(a, b grpc.MethodInfo) int { return strings.Compare(a.Name, b.Name) })
		for _, m := range methods {
			cl := methodCall("/"+svc+"/"+m.Name, m, client)
			if !c.selects(ctx, &cl) {
				continue
			}
			name := c.key(ctx, cl.method)
			if name == "" {
				continue
			}
			names = append(names, name)
			if err := checkGuard(reg, c, name); err != nil {
				errs = append(errs, fmt.Errorf("grpcmw: method %s: %w", cl.method, err))
			}
		}
	}
	errs = append(errs, unusedPatterns(reg, svcs, names)...)
	return errors.Join(errs...)
}

// methodCall describes a method as a call, for the Matcher and the selector.
func methodCall(fullMethod string, m grpc.MethodInfo, client bool) call {
	cl := call{method: fullMethod, server: !client}
	if !m.IsClientStream && !m.IsServerStream {
		return cl
	}
	if client {
		cl.desc = &grpc.StreamDesc{StreamName: m.Name, ClientStreams: m.IsClientStream, ServerStreams: m.IsServerStream}
	} else {
		cl.info = &grpc.StreamServerInfo{FullMethod: fullMethod, IsClientStream: m.IsClientStream, IsServerStream: m.IsServerStream}
	}
	return cl
}

// checkGuard creates the guard called name, and reports it when it has the
// registry's default policy for want of one named after it or matching it.
func checkGuard(reg *core.Registry, c *config, name string) error {
	def, matched, perr := reg.PolicyFor(name)
	g, err := reg.Guard(name, c.guardOpts...)
	switch {
	case err != nil:
		return fmt.Errorf("guard %q: %w", name, err)
	case perr != nil:
		return fmt.Errorf("guard %q: %w", name, perr)
	case !matched && c.policy == "" && g.Policy().Name == def.Name:
		return fmt.Errorf("guard %q has the registry's default policy %q: no policy is named after it or matches it "+
			"(add a policy whose Match pattern selects it, or use WithPolicy)", name, def.Name)
	}
	return nil
}

// unusedPatterns reports the Match patterns of reg's policies that aim at
// one of svcs but match none of the guards' names.
func unusedPatterns(reg *core.Registry, svcs, names []string) []error {
	var errs []error
	for _, p := range reg.Policies() {
		for _, pat := range p.Match {
			if !aimsAt(pat, svcs) || matchesAny(pat, names) {
				continue
			}
			errs = append(errs, fmt.Errorf("grpcmw: policy %q: Match pattern %q matches no guarded method of its services", p.Name, pat))
		}
	}
	return errs
}

// aimsAt reports whether a pattern has the form "/service/method" with a
// service part that selects one of svcs.
func aimsAt(pattern string, svcs []string) bool {
	rest, ok := strings.CutPrefix(pattern, "/")
	if !ok {
		return false
	}
	svcPat, method, ok := strings.Cut(rest, "/")
	if !ok || svcPat == "" || method == "" || strings.Contains(method, "/") {
		return false
	}
	for _, s := range svcs {
		if ok, err := core.MatchName(svcPat, s); err == nil && ok {
			return true
		}
	}
	return false
}

// matchesAny reports whether pattern matches one of names.
func matchesAny(pattern string, names []string) bool {
	for _, n := range names {
		if ok, err := core.MatchName(pattern, n); err == nil && ok {
			return true
		}
	}
	return false
}
