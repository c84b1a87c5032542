package splitup_test

import (
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/splitup/splitup/"

// allowed lists, for each layer, the project layers it may import (DESIGN.md,
// "Layers and arrows"). A package belongs to the layer of its first path
// element below the module ("models/gguf" is in layer "models"); a layer may
// always import its own sub-packages. cmd/... may import anything.
var allowed = map[string][]string{
	"ir":        {},
	"kernels":   {"ir"},
	"exec":      {"ir", "kernels"},
	"models":    {"ir", "kernels"},
	"partition": {"ir"},
	"contract":  {"ir"},
	"sim":       {"contract"},
	"sample":    {},
	"internal":  {},
	"pipeline":  {"ir", "p2p", "chain", "contract"},
	"chain":     {"contract", "ir"},
	"p2p":       {"ir"},
	"wire":      {"ir"},
	"node":      {"ir", "kernels", "exec", "models", "partition", "contract", "chain", "p2p", "wire", "sample", "pipeline"},
	"gateway":   {"ir", "kernels", "exec", "models", "partition", "contract", "chain", "p2p", "wire", "sample"},
	"deploy":    {"ir", "kernels", "models", "partition", "contract", "chain", "p2p"},
}

func layerOf(pkg string) string {
	rel := strings.TrimPrefix(pkg, module)
	if i := strings.IndexByte(rel, '/'); i >= 0 {
		rel = rel[:i]
	}
	return rel
}

func TestImportArrows(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	checked := 0
	for _, dir := range dirs {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil || dir == "." {
			continue // no Go files
		}
		layer := layerOf(module + filepath.ToSlash(dir))
		if layer == "cmd" || layer == "bench" {
			continue
		}
		ok, known := allowed[layer]
		if !known {
			t.Errorf("package %s is in no layer of DESIGN.md; add its layer to the table in deps_test.go", dir)
			continue
		}
		checked++
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := layerOf(imp)
			if to == layer || contains(ok, to) {
				continue
			}
			t.Errorf("%s imports %s: layer %q may not import layer %q (allowed: %v)", dir, imp, layer, to, ok)
		}
	}
	if checked == 0 {
		t.Fatal("no packages checked")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
