package partition

import (
	"testing"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/llama"
)

const gib = int64(1) << 30

func llama70B(t testing.TB) *ir.Graph {
	t.Helper()
	c := llama.Config{Dim: 8192, HiddenDim: 28672, Layers: 80, Heads: 64, KVHeads: 8, Vocab: 32000, Context: 4096}.Defaults()
	g, err := llama.Build(c, func(name string) ir.DType { return ir.F16 })
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestLlama70B(t *testing.T) {
	g := llama70B(t)
	p, err := Partition(g, Config{Cost: CostModel{Context: 4096}, Budget: 12 * gib})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d tasks, lower bound %d, total %.2f GiB, cut %d B/token, imbalance %.3f",
		len(p.Tasks), p.LowerBound, float64(p.TotalBytes)/float64(gib), p.CutBytes, p.Imbalance())
	for _, task := range p.Tasks {
		t.Logf("task %d: %.3f GiB, %d ops, in %v out %v", task.ID, float64(task.VRAM)/float64(gib), len(task.Ops), portNames(task.Inputs), portNames(task.Outputs))
	}
}

func portNames(ps []Port) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name)
	}
	return s
}
