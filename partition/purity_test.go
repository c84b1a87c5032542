package partition

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPure holds the package to its promise: no I/O, clock, randomness or
// goroutines in non-test code; imports only ir and a few stdlib packages.
func TestPure(t *testing.T) {
	allowed := map[string]bool{"errors": true, "fmt": true, "sort": true, "github.com/splitup/splitup/ir": true}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); !allowed[p] {
				t.Errorf("%s imports %s", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s: goroutine at %v", name, fset.Position(g.Pos()))
			}
			return true
		})
	}
}
