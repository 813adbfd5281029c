package httpmw

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/breakerbox/breakerbox/core"
)

// Validate checks, when the server starts, that the policies of reg fit
// the routes the middleware will guard, so that a policy that protects
// nothing is reported at once rather than found in an incident:
//
//	routes := []string{"GET /quote/{sku}", "POST /orders", "GET /healthz"}
//	for _, route := range routes {
//		mux.HandleFunc(route, handlers[route])
//	}
//	if err := httpmw.Validate(reg, routes, opts...); err != nil {
//		log.Fatal(err)
//	}
//
// routes are the guard names the middleware will use: a ServeMux's patterns
// as registered ("GET /quote/{sku}"), or the names the router adapters give
// (their Routes functions list them: chimw.Routes, ginmw.Routes,
// echomw.Routes). opts are the middleware's options; with [WithKey], pass
// the names the key function returns. Validate reports, joined:
//
//   - a route that takes the registry's default policy, because no policy
//     is named after it or has a Match pattern for it, when the registry has
//     policies besides its default (with only a default, every route takes
//     it by design);
//   - a Match pattern that looks like a route (it starts with "/" or with a
//     method and a space) but matches none of routes, or only routes that an
//     earlier policy takes (the first matching policy wins). Patterns of
//     other guards (hosts, gRPC methods such as "/pkg.Svc/*", names such as
//     "payments.*") are not checked. When a pattern fails because "*" stays
//     within one "/"-separated segment, or because route names start with
//     their method, the error says which pattern would match;
//   - with [WithPolicy], only that the policy exists: every route takes it.
//
// When there is nothing to report, Validate creates the guard of every route
// (with the options' policy and tags), so that the routes are listed in
// snapshots, exporters and the admin API, and can be forced open, before
// their first request. The same mistakes are logged at run time, once per
// guard, when a middleware meets them (see [WithLogger]).
func Validate(reg *core.Registry, routes []string, opts ...Option) error {
	if reg == nil {
		return errors.New("httpmw: Validate needs a registry")
	}
	if len(routes) == 0 {
		return errors.New("httpmw: Validate needs the routes the middleware guards")
	}
	cfg := newConfig(opts)
	var errs []error
	for i, rt := range routes {
		if rt == "" {
			errs = append(errs, fmt.Errorf("httpmw: routes[%d] is empty", i))
		}
	}
	if cfg.policy != "" {
		if _, err := reg.Policy(cfg.policy); err != nil {
			errs = append(errs, fmt.Errorf("httpmw: WithPolicy(%q): %w", cfg.policy, err))
		}
	} else {
		errs = append(errs, checkPolicies(reg, routes)...)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	gopts := cfg.guardOptions()
	for _, rt := range routes {
		if _, err := reg.Guard(rt, gopts...); err != nil {
			errs = append(errs, fmt.Errorf("httpmw: guard %q: %w", rt, err))
		}
	}
	return errors.Join(errs...)
}

// checkPolicies reports routes that take the default policy and route-like
// Match patterns that select no route.
func checkPolicies(reg *core.Registry, routes []string) []error {
	var errs []error
	policies := reg.Policies()
	taker := make(map[string]string, len(routes)) // route -> the policy it takes
	for _, rt := range routes {
		p, matched, err := reg.PolicyFor(rt)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("httpmw: route %q: %w", rt, err))
		case matched:
			taker[rt] = p.Name
		case hasOtherPolicies(policies, p.Name):
			msg := fmt.Sprintf("httpmw: route %q takes the default policy %q: no policy is named after it or matches it", rt, p.Name)
			if hint := defaultHint(policies, rt); hint != "" {
				msg += "; " + hint
			}
			errs = append(errs, errors.New(msg))
		}
	}
	for _, pol := range policies {
		for _, pat := range pol.Match {
			if !routeLike(pat) {
				continue
			}
			var hit []string
			taken := false
			for _, rt := range routes {
				if ok, _ := core.MatchName(pat, rt); ok {
					hit = append(hit, rt)
					taken = taken || taker[rt] == pol.Name
				}
			}
			switch {
			case len(hit) == 0:
				msg := fmt.Sprintf("httpmw: policy %q: match pattern %q matches no route", pol.Name, pat)
				if alt, why := fixPattern(pat, routes); alt != "" {
					msg += fmt.Sprintf("; %q would (%s)", alt, why)
				}
				errs = append(errs, errors.New(msg))
			case !taken:
				var by []string
				for _, rt := range hit {
					by = append(by, fmt.Sprintf("%s takes %q", rt, taker[rt]))
				}
				errs = append(errs, fmt.Errorf("httpmw: policy %q: match pattern %q matches only routes an earlier policy takes (%s); the first policy that matches wins",
					pol.Name, pat, strings.Join(by, ", ")))
			}
		}
	}
	return errs
}

// hasOtherPolicies reports whether policies holds one not named def.
func hasOtherPolicies(policies []core.Policy, def string) bool {
	for _, p := range policies {
		if p.Name != def {
			return true
		}
	}
	return false
}

// routeLike reports whether a Match pattern is meant for HTTP routes: it
// starts with a method (or a pattern of one) and a space, or with "/" but
// not as a gRPC method does ("/pkg.Service/Method").
func routeLike(pat string) bool {
	if i := strings.IndexByte(pat, ' '); i > 0 {
		for _, c := range pat[:i] {
			if !(c >= 'A' && c <= 'Z' || strings.ContainsRune("*?[]^-\\", c)) {
				return false
			}
		}
		return strings.HasPrefix(pat[i+1:], "/") || strings.HasPrefix(pat[i+1:], "*")
	}
	if !strings.HasPrefix(pat, "/") {
		return false
	}
	first, rest, more := strings.Cut(pat[1:], "/")
	return !(more && rest != "" && strings.Contains(first, "."))
}

// fixPattern returns a pattern close to pat that matches one of routes, and
// why pat did not: "*" where "**" was meant, or a missing method.
func fixPattern(pat string, routes []string) (alt, why string) {
	const (
		stars  = `"*" stays within one "/"-separated segment, "**" crosses them`
		method = `route names start with their method`
	)
	doubled := doubleStars(pat)
	candidates := []struct{ alt, why string }{{doubled, stars}}
	if strings.HasPrefix(pat, "/") {
		candidates = append(candidates, struct{ alt, why string }{"* " + pat, method}, struct{ alt, why string }{"* " + doubled, method + "; " + stars})
	}
	for _, c := range candidates {
		if c.alt == pat {
			continue
		}
		for _, rt := range routes {
			if ok, _ := core.MatchName(c.alt, rt); ok {
				return c.alt, c.why
			}
		}
	}
	return "", ""
}

// doubleStars turns every lone "*" of pat into "**" (escaped stars and
// classes left alone).
func doubleStars(pat string) string {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case c == '\\' && i+1 < len(pat):
			b.WriteByte(c)
			i++
			b.WriteByte(pat[i])
		case c == '*' && (i+1 >= len(pat) || pat[i+1] != '*') && (i == 0 || pat[i-1] != '*'):
			b.WriteString("**")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// defaultHint names a policy pattern that nearly matches name.
func defaultHint(policies []core.Policy, name string) string {
	for _, pol := range policies {
		for _, pat := range pol.Match {
			if !routeLike(pat) {
				continue
			}
			if alt, why := fixPattern(pat, []string{name}); alt != "" {
				return fmt.Sprintf("policy %q has Match %q, which does not match it; %q would (%s)", pol.Name, pat, alt, why)
			}
		}
	}
	return ""
}

// warnDefault logs, once per name in seen, that the guard called name is
// about to take the registry's default policy while the registry has other
// policies (see WithLogger). fix says how to give it one.
func warnDefault(reg *core.Registry, name string, cfg *config, seen *sync.Map, fix string) {
	p, matched, err := reg.PolicyFor(name)
	if err != nil || matched {
		return
	}
	policies := reg.Policies()
	if !hasOtherPolicies(policies, p.Name) {
		return
	}
	if _, dup := seen.LoadOrStore(name, struct{}{}); dup {
		return
	}
	hint := defaultHint(policies, name)
	if hint == "" {
		hint = fix
	}
	cfg.log().Warn("httpmw: a guard takes the registry's default policy: no policy is named after it or matches it",
		"guard", name, "policy", p.Name, "hint", hint)
}
