package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// spec is what the generator needs to know about one interface.
type spec struct {
	pkg       *types.Package
	iface     string // the interface's name
	decorator string // the decorator type's name
	methods   []*method
}

// method is one method of the interface.
type method struct {
	name   string
	sig    *types.Signature
	pos    token.Position
	guard  *guard // nil: the method passes through unguarded
	ctxArg int    // index of the first context.Context parameter, or -1
	// result is the name of the generated struct packing the non-error
	// results of a guarded method with more than one; fields are its fields.
	result string
	fields []string
}

// guard is the resolved annotation of a guarded method.
type guard struct {
	name       string
	policy     string
	fallbacks  []string
	timeout    time.Duration
	background bool
	field      string // the decorator's field holding the *core.Guard
}

// errorList is every problem found, each starting with file:line:column.
type errorList []error

func (l errorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// sortErrors orders errors by position (file, line, column).
func sortErrors(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, aok := errs[i].(*posError)
		b, bok := errs[j].(*posError)
		if !aok || !bok {
			return aok && !bok
		}
		if a.pos.Filename != b.pos.Filename {
			return a.pos.Filename < b.pos.Filename
		}
		if a.pos.Line != b.pos.Line {
			return a.pos.Line < b.pos.Line
		}
		return a.pos.Column < b.pos.Column
	})
}

// build checks the annotations of the package's files and resolves the
// interface called typeName into a spec. Every problem is reported, in
// source order, as an errorList.
func build(fset *token.FileSet, files []*ast.File, pkg *types.Package, typeName, decorator string) (*spec, error) {
	var errs []error
	placed := map[*ast.Comment]bool{} // directives on an interface or its methods
	var typeNotes []*ast.Comment
	var target *ast.TypeSpec
	methodNotes := map[string][]*ast.Comment{}
	var astMethods []*ast.Field

	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					continue
				}
				var own []*ast.Comment
				if len(gd.Specs) == 1 {
					own = append(own, directives(gd.Doc)...)
				}
				own = append(own, directives(ts.Doc)...)
				own = append(own, directives(ts.Comment)...)
				isTarget := ts.Name.Name == typeName
				if isTarget {
					target, typeNotes = ts, own
				}
				mark(placed, own)
				for _, fld := range it.Methods.List {
					notes := append(directives(fld.Doc), directives(fld.Comment)...)
					if len(fld.Names) == 0 {
						// An embedded interface: its annotations belong
						// where it is declared.
						for _, c := range notes {
							errs = append(errs, errorAt(fset.Position(c.Slash), "breakerbox:guard: on an embedded interface; annotate the methods where that interface is declared, or the interface %s itself with prefix=", ts.Name.Name))
						}
						mark(placed, notes)
						continue
					}
					mark(placed, notes)
					if isTarget {
						astMethods = append(astMethods, fld)
						methodNotes[fld.Names[0].Name] = notes
					}
				}
			}
		}
		for _, cg := range f.Comments {
			for _, c := range directives(cg) {
				if !placed[c] {
					errs = append(errs, errorAt(fset.Position(c.Slash), "breakerbox:guard: annotates an interface or one of its methods, and this comment is on neither"))
				}
			}
		}
	}

	obj := pkg.Scope().Lookup(typeName)
	if obj == nil {
		errs = append(errs, fmt.Errorf("breakergen: -type %s: no such type in package %s", typeName, pkg.Path()))
		return nil, finish(errs)
	}
	tn, ok := obj.(*types.TypeName)
	if !ok {
		errs = append(errs, errorAt(fset.Position(obj.Pos()), "-type %s: is a %s, not an interface type", typeName, kindOf(obj)))
		return nil, finish(errs)
	}
	iface, ok := tn.Type().Underlying().(*types.Interface)
	if !ok || target == nil {
		errs = append(errs, errorAt(fset.Position(obj.Pos()), "-type %s: is %s, not an interface type", typeName, describe(tn.Type().Underlying())))
		return nil, finish(errs)
	}
	if named, ok := tn.Type().(*types.Named); ok && named.TypeParams().Len() > 0 {
		errs = append(errs, errorAt(fset.Position(obj.Pos()), "-type %s: generic interfaces are not supported", typeName))
		return nil, finish(errs)
	}
	if tn.IsAlias() {
		errs = append(errs, errorAt(fset.Position(obj.Pos()), "-type %s: is an alias; name the interface it stands for", typeName))
		return nil, finish(errs)
	}
	if !iface.IsMethodSet() {
		errs = append(errs, errorAt(fset.Position(obj.Pos()), "-type %s: is a constraint (it has a type set), not an interface a value can have", typeName))
		return nil, finish(errs)
	}

	sp := &spec{pkg: pkg, iface: typeName, decorator: decorator}
	if sp.decorator == "" {
		sp.decorator = "Guarded" + typeName
	}

	// The interface's own annotation: defaults for every method.
	where := "interface " + typeName
	var def *annotation
	for i, c := range typeNotes {
		pos := fset.Position(c.Slash)
		if i > 0 {
			errs = append(errs, errorAt(pos, "breakerbox:guard: %s has more than one annotation (first at line %d); merge them", where, fset.Position(typeNotes[0].Slash).Line))
			continue
		}
		a, err := parseAnnotation(c.Text, pos, typeKeys, where)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		def = a
	}

	// Methods in source order, then those of embedded interfaces by name.
	var names []string
	for _, fld := range astMethods {
		names = append(names, fld.Names[0].Name)
	}
	var embedded []string
	for i := range iface.NumMethods() {
		if n := iface.Method(i).Name(); !slices.Contains(names, n) {
			embedded = append(embedded, n)
		}
	}
	sort.Strings(embedded)
	names = append(names, embedded...)

	byGuard := map[string]*method{}
	for _, name := range names {
		fn := methodNamed(iface, name)
		m := &method{name: name, sig: fn.Type().(*types.Signature), pos: fset.Position(fn.Pos()), ctxArg: contextArg(fn.Type().(*types.Signature))}
		sp.methods = append(sp.methods, m)
		mwhere := "method " + typeName + "." + name
		var own *annotation
		bad := false
		for i, c := range methodNotes[name] {
			pos := fset.Position(c.Slash)
			if i > 0 {
				errs = append(errs, errorAt(pos, "breakerbox:guard: %s has more than one annotation (first at line %d); merge them", mwhere, fset.Position(methodNotes[name][0].Slash).Line))
				bad = true
				continue
			}
			a, err := parseAnnotation(c.Text, pos, methodKeys, mwhere)
			if err != nil {
				errs = append(errs, err)
				bad = true
				continue
			}
			own = a
		}
		if bad || (own == nil && def == nil) {
			continue
		}
		if v, ok := own.get("skip"); ok {
			if len(own.vals) > 1 {
				errs = append(errs, errorAt(v.pos, "breakerbox:guard: skip leaves %s unguarded; it takes no other key", mwhere))
			}
			continue
		}
		g, err := resolve(m, mwhere, own, def)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		at := m.pos
		if own != nil {
			at = own.pos
		}
		if prev, dup := byGuard[g.name]; dup {
			errs = append(errs, errorAt(at, "breakerbox:guard: guard name %q is already used by method %s (%s); give each method its own name", g.name, prev.name, shortPos(prev.pos)))
			continue
		}
		byGuard[g.name] = m
		m.guard = g
	}
	if len(errs) == 0 && !slices.ContainsFunc(sp.methods, func(m *method) bool { return m.guard != nil }) {
		errs = append(errs, errorAt(fset.Position(obj.Pos()), "breakerbox:guard: interface %s has no guarded method: annotate its methods (//breakerbox:guard name=...), or the interface (//breakerbox:guard prefix=...)", typeName))
	}
	if len(errs) > 0 {
		return nil, finish(errs)
	}
	if err := sp.name(pkg, fset); err != nil {
		return nil, err
	}
	return sp, nil
}

// resolve merges a method's annotation over the interface's and checks it
// against the method's signature.
func resolve(m *method, where string, own, def *annotation) (*guard, error) {
	at := m.pos
	if own != nil {
		at = own.pos
	}
	pick := func(key string) (value, bool) {
		if v, ok := own.get(key); ok {
			return v, true
		}
		return def.get(key)
	}
	g := &guard{}
	if v, ok := own.get("name"); ok {
		g.name = v.text
	} else if p, ok := def.get("prefix"); ok {
		g.name = p.text + lowerCamel(m.name)
	} else {
		return nil, errorAt(at, "breakerbox:guard: %s needs name= (or prefix= on the interface)", where)
	}
	if v, ok := pick("policy"); ok {
		g.policy = v.text
	}
	if v, ok := pick("fallback"); ok {
		g.fallbacks = strings.Split(v.text, ",")
	}
	timeoutAt, ownTimeout := at, false
	if v, ok := pick("timeout"); ok {
		g.timeout, _ = time.ParseDuration(v.text) // checked by parseAnnotation
		timeoutAt = v.pos
		_, ownTimeout = own.get("timeout")
	}
	ctxAt, ownCtx := at, false
	if v, ok := pick("ctx"); ok {
		ctxAt = v.pos
		_, ownCtx = own.get("ctx")
		// On the interface, ctx=background is the rule for the methods
		// without a context; on a method, it says the method has none.
		g.background = ownCtx || m.ctxArg < 0
	}
	if g.background && !ownTimeout {
		g.timeout = 0 // the interface's timeout= is for methods with a context
	}
	res := m.sig.Results()
	if res.Len() == 0 || !isError(res.At(res.Len()-1).Type()) {
		got := "returns nothing"
		if res.Len() > 0 {
			got = "returns " + types.TypeString(res.At(res.Len()-1).Type(), types.RelativeTo(nil)) + " last"
		}
		return nil, errorAt(at, "breakerbox:guard: %s %s; a guarded method returns error last (the guard counts its failures)", where, got)
	}
	switch {
	case m.ctxArg < 0 && !g.background:
		return nil, errorAt(at, "breakerbox:guard: %s has no context.Context parameter; add one, or annotate ctx=background to run its calls under context.Background() (no caller deadline or cancellation)", where)
	case m.ctxArg >= 0 && ownCtx:
		return nil, errorAt(ctxAt, "breakerbox:guard: %s has a context.Context parameter (number %d); ctx=background is only for methods without one", where, m.ctxArg+1)
	case g.background && g.timeout > 0:
		return nil, errorAt(timeoutAt, "breakerbox:guard: %s has no context.Context parameter, so a timeout could not cancel it; drop timeout= (timeout=0 overrides the interface's)", where)
	}
	return g, nil
}

// name picks the generated names (fields, result structs) and checks that
// the package-level ones are free.
func (sp *spec) name(pkg *types.Package, fset *token.FileSet) error {
	taken := map[string]bool{"inner": true, "reg": true}
	for _, m := range sp.methods {
		taken[m.name] = true
	}
	var errs []error
	for _, m := range sp.methods {
		if m.name == "inner" || m.name == "reg" {
			errs = append(errs, errorAt(m.pos, "breakergen: %s.%s: the decorator's fields are called inner and reg; a method of that name is not supported", sp.iface, m.name))
		}
	}
	free := func(n string) {
		if obj := pkg.Scope().Lookup(n); obj != nil {
			errs = append(errs, errorAt(fset.Position(obj.Pos()), "breakergen: %s is already declared; the generated code needs the name (choose another with -decorator)", n))
		}
	}
	free(sp.decorator)
	free("New" + sp.decorator)
	if sp.hasFallbacks() {
		free(sp.decorator + "Policies")
	}
	for _, m := range sp.methods {
		if m.guard == nil {
			continue
		}
		f := lowerCamel(m.name) + "Guard"
		for taken[f] {
			f += "_"
		}
		taken[f] = true
		m.guard.field = f
		res := m.sig.Results()
		if res.Len() > 2 {
			m.result = sp.decorator + m.name + "Result"
			free(m.result)
			m.fields = resultFields(res)
		}
	}
	if len(errs) > 0 {
		return finish(errs)
	}
	return nil
}

func (sp *spec) hasFallbacks() bool {
	for _, m := range sp.methods {
		if m.guard != nil && len(m.guard.fallbacks) > 0 {
			return true
		}
	}
	return false
}

// resultFields names the fields of a result struct: the results' own
// names, capitalised, when every result but the error has a distinct one;
// else R0, R1...
func resultFields(res *types.Tuple) []string {
	n := res.Len() - 1
	out := make([]string, n)
	seen := map[string]bool{}
	for i := range n {
		name := res.At(i).Name()
		if name == "" || name == "_" {
			out = nil
			break
		}
		r, size := utf8.DecodeRuneInString(name)
		name = string(unicode.ToUpper(r)) + name[size:]
		if seen[name] {
			out = nil
			break
		}
		seen[name] = true
		out[i] = name
	}
	if out == nil {
		out = make([]string, n)
		for i := range n {
			out[i] = fmt.Sprintf("R%d", i)
		}
	}
	return out
}

func finish(errs []error) error {
	sortErrors(errs)
	return errorList(errs)
}

func directives(cg *ast.CommentGroup) []*ast.Comment {
	if cg == nil {
		return nil
	}
	var out []*ast.Comment
	for _, c := range cg.List {
		if isDirective(c.Text) {
			out = append(out, c)
		}
	}
	return out
}

func mark(set map[*ast.Comment]bool, cs []*ast.Comment) {
	for _, c := range cs {
		set[c] = true
	}
}

func methodNamed(iface *types.Interface, name string) *types.Func {
	for i := range iface.NumMethods() {
		if m := iface.Method(i); m.Name() == name {
			return m
		}
	}
	return nil
}

// contextArg returns the index of the first context.Context parameter, or -1.
func contextArg(sig *types.Signature) int {
	for i := range sig.Params().Len() {
		if isNamed(sig.Params().At(i).Type(), "context", "Context") {
			return i
		}
	}
	return -1
}

func isNamed(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}

func isError(t types.Type) bool { return types.Identical(t, types.Universe.Lookup("error").Type()) }

func kindOf(obj types.Object) string {
	switch obj.(type) {
	case *types.Func:
		return "function"
	case *types.Var:
		return "variable"
	case *types.Const:
		return "constant"
	}
	return "non-type"
}

func describe(t types.Type) string {
	switch t.(type) {
	case *types.Struct:
		return "a struct type"
	case *types.Basic:
		return "a basic type (" + t.String() + ")"
	case *types.Signature:
		return "a function type"
	}
	return "a " + strings.TrimPrefix(fmt.Sprintf("%T", t), "*types.") + " type"
}

func shortPos(p token.Position) string {
	p.Filename = filepath.Base(p.Filename)
	return p.String()
}

// lowerCamel lowers a method name's leading capital or initialism:
// Charge → charge, GetQuote → getQuote, URLFor → urlFor, ID → id.
func lowerCamel(s string) string {
	rs := []rune(s)
	i := 0
	for i < len(rs) && unicode.IsUpper(rs[i]) {
		i++
	}
	switch {
	case i == 0:
		return s
	case i == 1 || i == len(rs):
	default:
		i-- // URLFor: the F starts the next word
	}
	for j := range i {
		rs[j] = unicode.ToLower(rs[j])
	}
	return string(rs)
}
