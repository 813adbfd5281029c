package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

const head = "package p\n\nimport \"context\"\n\n" // the sources below start at line 5

// badCases are interfaces breakergen must refuse, each with the lines of the
// error it gives (prefixes: file:line:column and the start of the message).
var badCases = []struct {
	name, typ, src string
	want           []string
}{
	{"UnknownKey", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x retries=3\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: unknown key "retries" on method C.X (want name, policy, fallback, timeout, ctx, skip)`}},
	{"BadDuration", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x timeout=2x\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: timeout: "2x" is not a duration`}},
	{"NegativeDuration", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x timeout=-1s\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: timeout: "-1s" is negative`}},
	{"DuplicateGuardName", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) error\n\t//breakerbox:guard name=c.x\n\tY(ctx context.Context) error\n}\n",
		[]string{`in.go:8:2: breakerbox:guard: guard name "c.x" is already used by method X (in.go:7:2)`}},
	{"DuplicateKey", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x name=c.y\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: key "name" given twice on method C.X (first at column 21)`}},
	{"OnAStruct", "C", head + "//breakerbox:guard name=c.x\ntype S struct{}\n\ntype C interface {\n\t//breakerbox:guard name=c.y\n\tY(ctx context.Context) error\n}\n",
		[]string{`in.go:5:1: breakerbox:guard: annotates an interface or one of its methods, and this comment is on neither`}},
	{"OnAFuncAndAMethodAndInABody", "C", head + "type C interface {\n\t//breakerbox:guard name=c.y\n\tY(ctx context.Context) error\n}\n\ntype S struct{}\n\n//breakerbox:guard name=s.m\nfunc (S) M() error { return nil }\n\nfunc F() {\n\t//breakerbox:guard name=f\n}\n",
		[]string{`in.go:12:1: breakerbox:guard: annotates an interface or one of its methods`, `in.go:16:2: breakerbox:guard: annotates an interface or one of its methods`}},
	{"LastResultNotError", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) (int, bool)\n}\n",
		[]string{`in.go:6:2: breakerbox:guard: method C.X returns bool last; a guarded method returns error last`}},
	{"NoResults", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context)\n}\n",
		[]string{`in.go:6:2: breakerbox:guard: method C.X returns nothing; a guarded method returns error last`}},
	{"NoContext", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\tX(n int) error\n}\n\nvar _ context.Context\n",
		[]string{`in.go:6:2: breakerbox:guard: method C.X has no context.Context parameter; add one, or annotate ctx=background`}},
	{"BackgroundWithAContext", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x ctx=background\n\tX(n int, ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: method C.X has a context.Context parameter (number 2); ctx=background is only for methods without one`}},
	{"BadCtxValue", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x ctx=todo\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: ctx: "todo" is not allowed (the only value is background)`}},
	{"TimeoutWithoutAContext", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x ctx=background timeout=1s\n\tX() error\n}\n\nvar _ context.Context\n",
		[]string{`in.go:6:45: breakerbox:guard: method C.X has no context.Context parameter, so a timeout could not cancel it`}},
	{"NameOnTheInterface", "C", head + "//breakerbox:guard name=c\ntype C interface {\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:5:20: breakerbox:guard: key "name" belongs on a method, not on interface C (use prefix= there)`}},
	{"PrefixOnAMethod", "C", head + "type C interface {\n\t//breakerbox:guard prefix=c.\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:21: breakerbox:guard: key "prefix" belongs on the interface, not on method C.X (use name= there)`}},
	{"InterfaceWithoutPrefix", "C", head + "//breakerbox:guard timeout=1s\ntype C interface {\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:5:1: breakerbox:guard on interface C: an interface annotation needs prefix=`}},
	{"MethodWithoutName", "C", head + "type C interface {\n\t//breakerbox:guard timeout=1s\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:2: breakerbox:guard: method C.X needs name= (or prefix= on the interface)`}},
	{"EmptyValue", "C", head + "type C interface {\n\t//breakerbox:guard name=\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:21: breakerbox:guard: name needs a value (name=...)`}},
	{"EmptyFallbackName", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x fallback=a,,b\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: fallback: "a,,b" has an empty name`}},
	{"RepeatedFallback", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x fallback=a,a\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:30: breakerbox:guard: fallback: "a,a" names "a" twice`}},
	{"SkipWithKeys", "C", head + "type C interface {\n\t//breakerbox:guard skip name=c.x\n\tX(ctx context.Context) error\n\t//breakerbox:guard name=c.y\n\tY(ctx context.Context) error\n}\n",
		[]string{`in.go:6:21: breakerbox:guard: skip leaves method C.X unguarded; it takes no other key`}},
	{"SkipWithValue", "C", head + "type C interface {\n\t//breakerbox:guard skip=yes\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:6:21: breakerbox:guard: skip takes no value, got "yes"`}},
	{"TwoAnnotations", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\t//breakerbox:guard timeout=1s\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:7:2: breakerbox:guard: method C.X has more than one annotation (first at line 6); merge them`}},
	{"OnAnEmbeddedInterface", "C", head + "type B interface{ Close() error }\n\ntype C interface {\n\t//breakerbox:guard name=c.b\n\tB\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:8:2: breakerbox:guard: on an embedded interface`}},
	{"NotAnInterface", "C", head + "type C struct{ ctx context.Context }\n",
		[]string{`in.go:5:6: -type C: is a struct type, not an interface type`}},
	{"NoSuchType", "Nope", head + "type C interface {\n\tX(ctx context.Context) error\n}\n",
		[]string{`breakergen: -type Nope: no such type in package example.com/cases/NoSuchType`}},
	{"Generic", "C", head + "type C[T any] interface {\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) (T, error)\n}\n",
		[]string{`in.go:5:6: -type C: generic interfaces are not supported`}},
	{"Constraint", "C", head + "type C interface {\n\t~int\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:5:6: -type C: is a constraint (it has a type set), not an interface a value can have`}},
	{"NothingGuarded", "C", head + "type C interface {\n\tX(ctx context.Context) error\n}\n",
		[]string{`in.go:5:6: breakerbox:guard: interface C has no guarded method`}},
	{"DecoratorNameTaken", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) error\n}\n\ntype GuardedC struct{}\n",
		[]string{`in.go:10:6: breakergen: GuardedC is already declared; the generated code needs the name (choose another with -decorator)`}},
	{"MethodNamedLikeAField", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x\n\tX(ctx context.Context) error\n\treg() int\n}\n",
		[]string{`in.go:8:2: breakergen: C.reg: the decorator's fields are called inner and reg; a method of that name is not supported`}},
	{"EveryProblemInOrder", "C", head + "type C interface {\n\t//breakerbox:guard name=c.x timeout=soon\n\tX(ctx context.Context) error\n\t//breakerbox:guard name=c.y\n\tY() error\n}\n\n//breakerbox:guard name=v\nvar v int\n",
		[]string{`in.go:6:30: breakerbox:guard: timeout: "soon" is not a duration`, `in.go:8:2: breakerbox:guard: method C.Y has no context.Context parameter`, `in.go:12:1: breakerbox:guard: annotates an interface or one of its methods`}},
}

// TestBadAnnotationsAreRefused loads every case as a package of one module
// (one go list for all) and checks the errors build reports.
func TestBadAnnotationsAreRefused(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module example.com/cases\n\ngo 1.26\n")
	for _, c := range badCases {
		write(t, filepath.Join(root, c.name, "in.go"), c.src)
	}
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes, Dir: root}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	byDir := map[string]*packages.Package{}
	for _, p := range pkgs {
		byDir[filepath.Base(p.PkgPath)] = p
	}
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			p := byDir[c.name]
			if p == nil {
				t.Fatalf("package %s not loaded", c.name)
			}
			_, err := build(p.Fset, p.Syntax, p.Types, c.typ, "")
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), filepath.Join(root, c.name)+string(filepath.Separator), ""), "\n")
			if len(got) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i+1, got[i], c.want[i])
				}
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
}
