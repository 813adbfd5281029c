package main

import (
	"bytes"
	"fmt"
	"go/format"
	"go/types"
	"slices"
	"strconv"
	"strings"
	"time"
)

const corePath = "github.com/breakerbox/breakerbox/core"

// imports names the packages the generated file imports, so that no import
// collides with a package-level name or a local name of the generated code.
type imports struct {
	pkg    *types.Package
	byPath map[string]string
	used   map[string]bool
}

func newImports(pkg *types.Package) *imports {
	im := &imports{pkg: pkg, byPath: map[string]string{}, used: map[string]bool{}}
	for _, n := range pkg.Scope().Names() {
		im.used[n] = true
	}
	// Names of the generated code's receivers, parameters and locals.
	for _, n := range []string{"d", "ctx", "cancel", "r", "err", "inner", "reg", "fb", "ref", "ok"} {
		im.used[n] = true
	}
	return im
}

// name returns the name under which the file refers to the package at path.
func (im *imports) name(path, want string) string {
	if n, ok := im.byPath[path]; ok {
		return n
	}
	n := want
	for i := 2; im.used[n] || isParamName(n); i++ {
		n = want + strconv.Itoa(i)
	}
	im.used[n] = true
	im.byPath[path] = n
	return n
}

func (im *imports) qualifier(p *types.Package) string {
	if p == im.pkg {
		return ""
	}
	return im.name(p.Path(), p.Name())
}

// isParamName reports whether n has the form of a generated parameter
// name (a0, a1...).
func isParamName(n string) bool {
	if len(n) < 2 || n[0] != 'a' {
		return false
	}
	_, err := strconv.Atoi(n[1:])
	return err == nil
}

func (im *imports) block() string {
	var std, other []string
	for path, n := range im.byPath {
		line := strconv.Quote(path)
		if n != lastElem(path) {
			line = n + " " + line
		}
		if strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
			other = append(other, line)
		} else {
			std = append(std, line)
		}
	}
	sortByPath := func(a, b string) int { return strings.Compare(unaliased(a), unaliased(b)) }
	slices.SortFunc(std, sortByPath)
	slices.SortFunc(other, sortByPath)
	var b strings.Builder
	b.WriteString("import (\n")
	for _, l := range std {
		b.WriteString("\t" + l + "\n")
	}
	if len(std) > 0 && len(other) > 0 {
		b.WriteString("\n")
	}
	for _, l := range other {
		b.WriteString("\t" + l + "\n")
	}
	b.WriteString(")\n")
	return b.String()
}

func lastElem(path string) string { return path[strings.LastIndex(path, "/")+1:] }

func unaliased(line string) string {
	if i := strings.Index(line, "\""); i >= 0 {
		return line[i:]
	}
	return line
}

// generate returns the gofmt-formatted source of the decorator; command is
// the command line recorded in the header.
func generate(sp *spec, command string) ([]byte, error) {
	im := newImports(sp.pkg)
	params := paramNames(sp)
	for _, ns := range params {
		for _, n := range ns {
			im.used[n] = true
		}
	}
	var body bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	typ := func(t types.Type) string { return types.TypeString(t, im.qualifier) }
	core := im.name(corePath, "core")
	ctxPkg := func() string { return im.name("context", "context") }
	D := sp.decorator

	// The type.
	para(&body, fmt.Sprintf("%s implements %s by calling an inner %s through breakerbox guards, one per guarded method (see the breakerbox:guard annotations on %s):", D, sp.iface, sp.iface, sp.iface))
	w("//\n")
	width := 0
	for _, m := range sp.methods {
		width = max(width, len(m.name))
	}
	for _, m := range sp.methods {
		w("//\t%-*s  %s\n", width, m.name, m.summary())
	}
	w("//\n")
	para(&body, fmt.Sprintf("A call with a context uses the guard the registry's ForCall picks for that context: the method's guard, or a tenant's or variant's guard of it. Build it with New%s. It is safe for concurrent use when the inner %s is.", D, sp.iface))
	w("type %s struct {\n\tinner %s\n\treg   *%s.Registry\n", D, sp.iface, core)
	for _, m := range sp.methods {
		if m.guard != nil {
			w("\t%s *%s.Guard // %q\n", m.guard.field, core, m.guard.name)
		}
	}
	w("}\n\nvar _ %s = (*%s)(nil)\n\n", sp.iface, D)

	// Result structs.
	for _, m := range sp.methods {
		if m.result == "" {
			continue
		}
		para(&body, fmt.Sprintf("%s packs the results of %s.%s but its error, for the guard %q: a fallback answering for it returns one.", m.result, sp.iface, m.name, m.guard.name))
		w("type %s struct {\n", m.result)
		for i, f := range m.fields {
			w("\t%s %s\n", f, typ(m.sig.Results().At(i).Type()))
		}
		w("}\n\n")
	}

	// The constructor.
	ctorDoc := fmt.Sprintf("New%s returns a %s calling inner, with its guards taken from reg once, here. It fails when inner or reg is nil, ", D, D)
	if sp.hasFallbacks() {
		ctorDoc += fmt.Sprintf("when reg cannot create a guard (a policy= naming an unknown policy), or when a guard's policy does not list the fallbacks its annotation names (see %sPolicies)", D)
	} else {
		ctorDoc += "or when reg cannot create a guard (a policy= naming an unknown policy)"
	}
	para(&body, ctorDoc+".")
	w("func New%s(inner %s, reg *%s.Registry) (*%s, error) {\n", D, sp.iface, core, D)
	w("\tif inner == nil || reg == nil {\n\t\treturn nil, %s.New(%q)\n\t}\n", im.name("errors", "errors"), D+": New"+D+" needs an inner "+sp.iface+" and a registry")
	w("\td := &%s{inner: inner, reg: reg}\n", D)
	w("\tfor _, s := range []struct {\n")
	w("\t\tguard     **%s.Guard\n", core)
	w("\t\tmethod    string\n")
	w("\t\tname      string   // the guard's name\n")
	w("\t\tpolicy    string   // the policy it uses, when not its own (core.UsePolicy)\n")
	w("\t\tfallbacks []string // the fallbacks its policy must list\n")
	w("\t}{\n")
	for _, m := range sp.methods {
		g := m.guard
		if g == nil {
			continue
		}
		policy := g.policy
		if len(g.fallbacks) > 0 {
			policy = "" // the guard's own policy (see the Policies func) extends it
		}
		fbs := "nil"
		if len(g.fallbacks) > 0 {
			fbs = fmt.Sprintf("%#v", g.fallbacks)
		}
		w("\t\t{&d.%s, %q, %q, %q, %s},\n", g.field, m.name, g.name, policy, fbs)
	}
	fmtPkg := im.name("fmt", "fmt")
	w("\t} {\n")
	w("\t\tvar opts []%s.GuardOption\n", core)
	w("\t\tif s.policy != \"\" {\n\t\t\topts = append(opts, %s.UsePolicy(s.policy))\n\t\t}\n", core)
	w("\t\tg, err := reg.Guard(s.name, opts...)\n")
	w("\t\tif err != nil {\n\t\t\treturn nil, %s.Errorf(\"%s: method %%s: %%w\", s.method, err)\n\t\t}\n", fmtPkg, D)
	w("\t\tfor _, fb := range s.fallbacks {\n")
	w("\t\t\tif !%s.ContainsFunc(g.Policy().Fallbacks, func(ref %s.FallbackRef) bool { return ref.Name == fb }) {\n", im.name("slices", "slices"), core)
	hint := "list it there"
	if sp.hasFallbacks() {
		hint += ", or register " + D + "Policies()"
	}
	w("\t\t\t\treturn nil, %s.Errorf(\"%s: method %%s: guard %%q has policy %%q, which lists no fallback %%q: %s\", s.method, s.name, g.Policy().Name, fb)\n", fmtPkg, D, hint)
	w("\t\t\t}\n\t\t}\n")
	w("\t\t*s.guard = g\n\t}\n")
	w("\treturn d, nil\n}\n\n")

	// The policy fragment.
	if sp.hasFallbacks() {
		para(&body, fmt.Sprintf("%sPolicies returns the policies that wire the fallbacks the annotations of %s name: one per such guard, named as the guard, extending the annotation's policy= if any, listing the fallbacks in order. Register them (core.WithPolicies, Registry.SetPolicies or a policy document) with the fallbacks themselves (core.WithFallback), or list the fallbacks in your own policies: New%s checks that each guard's policy lists them.", D, sp.iface, D))
		w("func %sPolicies() []%s.Policy {\n\treturn []%s.Policy{\n", D, core, core)
		for _, m := range sp.methods {
			g := m.guard
			if g == nil || len(g.fallbacks) == 0 {
				continue
			}
			w("\t\t{Name: %q", g.name)
			if g.policy != "" {
				w(", Extends: %q", g.policy)
			}
			w(", Fallbacks: []%s.FallbackRef{", core)
			for i, fb := range g.fallbacks {
				if i > 0 {
					w(", ")
				}
				w("{Name: %q}", fb)
			}
			w("}},\n")
		}
		w("\t}\n}\n\n")
	}

	// The methods.
	for _, m := range sp.methods {
		params, args := paramList(m.sig, params[m], typ)
		results := resultList(m.sig, typ)
		g := m.guard
		if g == nil {
			w("// %s calls the inner %s directly: it is not guarded.\n", m.name, m.name)
			w("func (d *%s) %s(%s)%s {\n", D, m.name, params, results)
			if m.sig.Results().Len() > 0 {
				w("\treturn ")
			} else {
				w("\t")
			}
			w("d.inner.%s(%s)\n}\n\n", m.name, args)
			continue
		}
		mdoc := fmt.Sprintf("%s calls the inner %s through the guard %q", m.name, m.name, g.name)
		if g.timeout > 0 {
			mdoc += fmt.Sprintf(", each attempt under a %s timeout", g.timeout)
		}
		mdoc += "."
		if g.background {
			mdoc += fmt.Sprintf(" %s has no context.Context parameter: its calls run under context.Background() (ctx=background).", m.name)
		}
		para(&body, mdoc)
		w("func (d *%s) %s(%s)%s {\n", D, m.name, params, results)
		// The guard for this call: a tenant's or variant's guard when the
		// registry's document has them and ctx selects one (ForCall).
		outer, inner, guardExpr := "ctx", "ctx", "d.reg.ForCall(ctx, d."+g.field+")"
		if g.background {
			outer, inner, guardExpr = ctxPkg()+".Background()", "_", "d."+g.field
		}
		res := m.sig.Results()
		var T string
		switch {
		case res.Len() == 1:
			T = "any"
			w("\t_, err := %s.Do(%s, %s, func(%s %s.Context) (any, error) {\n", core, outer, guardExpr, inner, ctxPkg())
		case res.Len() == 2:
			T = typ(res.At(0).Type())
			w("\treturn %s.Do(%s, %s, func(%s %s.Context) (%s, error) {\n", core, outer, guardExpr, inner, ctxPkg(), T)
		default:
			T = m.result
			w("\tr, err := %s.Do(%s, %s, func(%s %s.Context) (%s, error) {\n", core, outer, guardExpr, inner, ctxPkg(), T)
		}
		if g.timeout > 0 {
			w("\t\tctx, cancel := %s.WithTimeout(ctx, %s)\n\t\tdefer cancel()\n", ctxPkg(), durationExpr(g.timeout, im))
		}
		call := fmt.Sprintf("d.inner.%s(%s)", m.name, args)
		switch {
		case res.Len() == 1:
			w("\t\treturn nil, %s\n\t})\n\treturn err\n}\n\n", call)
		case res.Len() == 2:
			w("\t\treturn %s\n\t})\n}\n\n", call)
		default:
			w("\t\tvar r %s\n\t\tvar err error\n\t\t", T)
			for _, f := range m.fields {
				w("r.%s, ", f)
			}
			w("err = %s\n\t\treturn r, err\n\t})\n\treturn ", call)
			for _, f := range m.fields {
				w("r.%s, ", f)
			}
			w("err\n}\n\n")
		}
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "// Code generated by %s; DO NOT EDIT.\n\npackage %s\n\n", command, sp.pkg.Name())
	out.WriteString(im.block())
	out.WriteString("\n")
	out.Write(body.Bytes())
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("breakergen: generated code does not parse (a bug; please report it): %w\n%s", err, out.Bytes())
	}
	return src, nil
}

// summary describes a method's guard for the type's doc table.
func (m *method) summary() string {
	g := m.guard
	if g == nil {
		return "unguarded"
	}
	var extra []string
	if g.policy != "" {
		extra = append(extra, "policy "+g.policy)
	}
	if g.timeout > 0 {
		extra = append(extra, g.timeout.String()+" per attempt")
	}
	if len(g.fallbacks) > 0 {
		extra = append(extra, "fallback "+strings.Join(g.fallbacks, ", "))
	}
	if g.background {
		extra = append(extra, "context.Background()")
	}
	s := strconv.Quote(g.name)
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

// paramNames names the parameters of each method in the generated code:
// ctx for the first context.Context, the interface's own names for the
// others where they cannot collide with a name the generated code uses,
// else a0, a1...
func paramNames(sp *spec) map[*method][]string {
	avoid := map[string]bool{"": true, "_": true, "d": true, "r": true, "err": true, "cancel": true, "ctx": true, "inner": true, "reg": true,
		"context": true, "core": true, "time": true, "errors": true, "fmt": true, "slices": true}
	for _, p := range sp.pkg.Imports() {
		avoid[p.Name()] = true
	}
	out := map[*method][]string{}
	for _, m := range sp.methods {
		ps := m.sig.Params()
		names := make([]string, ps.Len())
		for i := range ps.Len() {
			n := ps.At(i).Name()
			switch {
			case i == m.ctxArg:
				n = "ctx"
			case avoid[n] || isParamName(n) || sp.pkg.Scope().Lookup(n) != nil || slices.Contains(names[:i], n):
				n = "a" + strconv.Itoa(i)
			}
			names[i] = n
		}
		out[m] = names
	}
	return out
}

// paramList returns a method's parameter list, with the names paramNames
// gave, and the matching argument list.
func paramList(sig *types.Signature, names []string, typ func(types.Type) string) (params, args string) {
	ps := sig.Params()
	var pl, al []string
	for i := range ps.Len() {
		name := names[i]
		t := ps.At(i).Type()
		if sig.Variadic() && i == ps.Len()-1 {
			pl = append(pl, name+" ..."+typ(t.(*types.Slice).Elem()))
			al = append(al, name+"...")
			continue
		}
		pl = append(pl, name+" "+typ(t))
		al = append(al, name)
	}
	return strings.Join(pl, ", "), strings.Join(al, ", ")
}

func resultList(sig *types.Signature, typ func(types.Type) string) string {
	rs := sig.Results()
	switch rs.Len() {
	case 0:
		return ""
	case 1:
		return " " + typ(rs.At(0).Type())
	}
	var l []string
	for i := range rs.Len() {
		l = append(l, typ(rs.At(i).Type()))
	}
	return " (" + strings.Join(l, ", ") + ")"
}

// durationExpr writes d as a constant expression: 2 * time.Second,
// 1500 * time.Millisecond.
func durationExpr(d time.Duration, im *imports) string {
	t := im.name("time", "time")
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d*%s.%s", d/u.d, t, u.name)
		}
	}
	return fmt.Sprintf("%d*%s.Nanosecond", d, t)
}

// para writes text as a comment paragraph wrapped at about 76 columns.
func para(b *bytes.Buffer, text string) {
	line := "//"
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 76 && line != "//" {
			b.WriteString(line + "\n")
			line = "//"
		}
		line += " " + word
	}
	b.WriteString(line + "\n")
}
