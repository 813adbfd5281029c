package main

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

// options are the command's flags and argument.
type options struct {
	typeName  string
	output    string
	decorator string
	dir       string
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("breakergen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.typeName, "type", "", "the interface to decorate (required)")
	fs.StringVar(&o.output, "output", "", "the file to write (default <type>_guard.go, lower case, in the package's directory)")
	fs.StringVar(&o.decorator, "decorator", "", "the decorator type's name (default Guarded<type>)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: breakergen -type Interface [-output file] [-decorator Name] [package directory]\n\n")
		fmt.Fprintf(stderr, "Generates a decorator calling each //breakerbox:guard method of the interface through core.Do.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		o.dir = "."
	case 1:
		o.dir = fs.Arg(0)
	default:
		return fmt.Errorf("breakergen: one package directory at most, got %d arguments: %s", fs.NArg(), strings.Join(fs.Args(), " "))
	}
	if o.typeName == "" {
		return errors.New("breakergen: -type is required (the interface to decorate)")
	}
	if !token.IsIdentifier(o.typeName) {
		return fmt.Errorf("breakergen: -type: %q is not a Go identifier", o.typeName)
	}
	if o.decorator != "" && !token.IsIdentifier(o.decorator) {
		return fmt.Errorf("breakergen: -decorator: %q is not a Go identifier", o.decorator)
	}
	if o.output == "" {
		o.output = filepath.Join(o.dir, strings.ToLower(o.typeName)+"_guard.go")
	}
	src, err := generateFor(o, commandLine(o))
	if err != nil {
		if wd, werr := os.Getwd(); werr == nil {
			relativize(err, wd)
		}
		return err
	}
	return os.WriteFile(o.output, src, 0o666)
}

// commandLine is the command recorded in the generated file's header; it
// leaves out paths, so the header does not depend on where it ran.
func commandLine(o options) string {
	s := "breakergen -type " + o.typeName
	if o.decorator != "" {
		s += " -decorator " + o.decorator
	}
	return s
}

// generateFor loads the package in o.dir and returns the decorator's source.
func generateFor(o options, command string) ([]byte, error) {
	output, err := filepath.Abs(o.output)
	if err != nil {
		return nil, fmt.Errorf("breakergen: -output: %w", err)
	}
	pkg, err := load(o.dir, output)
	if err != nil {
		return nil, err
	}
	if len(pkg.GoFiles) > 0 && filepath.Dir(pkg.GoFiles[0]) != filepath.Dir(output) {
		return nil, fmt.Errorf("breakergen: -output %s is not in the directory of package %s (%s); the decorator belongs to the interface's package", o.output, pkg.PkgPath, filepath.Dir(pkg.GoFiles[0]))
	}
	sp, err := build(pkg.Fset, pkg.Syntax, pkg.Types, o.typeName, o.decorator)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(pkg, sp); err != nil {
		return nil, err
	}
	return generate(sp, command)
}

// load loads the package in dir with its syntax and types. A previous
// output file is read as an empty file of its package, so that a stale
// decorator (for an interface that has changed since) does not get in the
// way.
func load(dir, output string) (*packages.Package, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes,
		Dir:  dir,
	}
	if src, err := os.ReadFile(output); err == nil {
		f, err := parser.ParseFile(token.NewFileSet(), output, src, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil || !ast.IsGenerated(f) {
			return nil, fmt.Errorf("breakergen: -output %s exists and is not a generated file (no \"Code generated ... DO NOT EDIT.\" line); breakergen overwrites only the files it writes", output)
		}
		cfg.Overlay = map[string][]byte{output: []byte("package " + f.Name.Name + "\n")}
	}
	pkgs, err := packages.Load(cfg, ".")
	if err != nil {
		return nil, fmt.Errorf("breakergen: loading the package in %s: %w", dir, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("breakergen: %s holds %d packages, want 1", dir, len(pkgs))
	}
	pkg := pkgs[0]
	// Type errors are expected (code of the package using a decorator not
	// generated yet): checkTypes reports them if the interface is hit.
	// Syntax errors, or a package that did not load, stop here.
	var msgs []string
	parseErr := false
	for _, e := range pkg.Errors {
		msgs = append(msgs, e.Error())
		parseErr = parseErr || e.Kind == packages.ParseError
	}
	if parseErr || pkg.Types == nil || len(pkg.Syntax) == 0 {
		if len(msgs) == 0 {
			msgs = append(msgs, "no Go files")
		}
		return nil, fmt.Errorf("breakergen: loading the package in %s:\n%s", dir, strings.Join(msgs, "\n"))
	}
	return pkg, nil
}

// checkTypes fails when the interface's methods use a type that did not
// type-check, reporting the package's type errors: the rest of the package
// may have errors (code that uses the decorator not generated yet).
func checkTypes(pkg *packages.Package, sp *spec) error {
	bad := false
	for _, m := range sp.methods {
		for _, t := range []*types.Tuple{m.sig.Params(), m.sig.Results()} {
			for i := range t.Len() {
				if strings.Contains(types.TypeString(t.At(i).Type(), nil), "invalid type") {
					bad = true
				}
			}
		}
	}
	if !bad {
		return nil
	}
	var msgs []string
	for _, e := range pkg.Errors {
		msgs = append(msgs, e.Error())
	}
	slices.Sort(msgs)
	return fmt.Errorf("breakergen: %s does not type-check:\n%s", sp.iface, strings.Join(msgs, "\n"))
}

// relativize shortens the file names of err's positions to paths relative
// to wd when they are below it, as the go command prints them.
func relativize(err error, wd string) {
	var list errorList
	if !errors.As(err, &list) {
		return
	}
	for _, e := range list {
		if pe, ok := e.(*posError); ok {
			if rel, rerr := filepath.Rel(wd, pe.pos.Filename); rerr == nil && filepath.IsLocal(rel) {
				pe.pos.Filename = rel
			}
		}
	}
}
