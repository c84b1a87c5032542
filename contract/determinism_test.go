package contract

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbiddenImports are packages that bring I/O, clocks, randomness or
// concurrency into the state machine.
var forbiddenImports = []string{
	"os", "net", "time", "math/rand", "math/rand/v2", "crypto/rand", "sync", "sync/atomic",
	"syscall", "unsafe", "runtime", "io/ioutil", "log", "plugin", "reflect", "io/fs",
}

func forbidden(path string) bool {
	for _, f := range forbiddenImports {
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return strings.HasPrefix(path, "net/") || strings.HasPrefix(path, "os/")
}

// TestDeterminismRules parses and type-checks the package's non-test files
// and fails on forbidden imports, go statements, floats and ranging over maps.
func TestDeterminismRules(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("github.com/splitup/splitup/contract", fset, files, info); err != nil {
		t.Fatalf("type-check: %v", err)
	}
	for _, f := range files {
		for _, v := range checkFile(fset, f, info) {
			t.Error(v)
		}
	}
}

// checkFile returns the rule violations in f.
func checkFile(fset *token.FileSet, f *ast.File, info *types.Info) []string {
	var out []string
	report := func(pos token.Pos, format string, args ...any) {
		out = append(out, fset.Position(pos).String()+": "+fmt.Sprintf(format, args...))
	}
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); forbidden(p) {
			report(imp.Pos(), "forbidden import %q", p)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), "go statement")
		case *ast.BasicLit:
			if n.Kind == token.FLOAT || n.Kind == token.IMAG {
				report(n.Pos(), "float literal %s", n.Value)
			}
		case *ast.RangeStmt:
			if _, isMap := info.TypeOf(n.X).Underlying().(*types.Map); isMap {
				report(n.Pos(), "range over a map (use sortedKeys)")
			}
		case ast.Expr:
			if isFloat(info.TypeOf(n)) {
				report(n.Pos(), "float-typed expression")
			}
		}
		return true
	})
	return out
}

func isFloat(typ types.Type) bool {
	if typ == nil {
		return false
	}
	b, isBasic := typ.Underlying().(*types.Basic)
	return isBasic && b.Info()&(types.IsFloat|types.IsComplex) != 0
}

// TestDeterminismRulesCatch checks that the checker itself notices violations.
func TestDeterminismRulesCatch(t *testing.T) {
	src := `package x
import "time"
var m = map[int]int{}
func f() float64 { go f(); for k := range m { _ = k }; return 1.5 }
var _ = time.Now`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("x", fset, []*ast.File{f}, info); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(checkFile(fset, f, info), "\n")
	for _, want := range []string{"forbidden import \"time\"", "go statement", "float literal 1.5", "range over a map", "float-typed expression"} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; got:\n%s", want, got)
		}
	}
}
