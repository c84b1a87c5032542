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

// TestLlama70B plans LLaMA-2-70B shapes in f16 for 12 GiB cards and a
// 4096-token context.
func TestLlama70B(t *testing.T) {
	g := llama70B(t)
	p, err := Partition(g, Config{Cost: CostModel{Context: 4096}, Budget: 12 * gib})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	t.Logf("%d tasks, lower bound %d, total %.2f GiB, cut %d B/token, imbalance %.3f",
		len(p.Tasks), p.LowerBound, float64(p.TotalBytes)/float64(gib), p.CutBytes, p.Imbalance())
	if len(p.Tasks) > 12 || len(p.Tasks) < p.LowerBound {
		t.Errorf("%d tasks, want at most 12 and at least the lower bound %d", len(p.Tasks), p.LowerBound)
	}
	// The lower bound ignores activations; with them, one task fewer cannot fit.
	least := p.Tasks[0].ActivationBytes
	for _, task := range p.Tasks {
		least = min(least, task.ActivationBytes)
	}
	if n := int64(len(p.Tasks) - 1); p.TotalBytes+n*least <= n*p.Budget {
		t.Errorf("%d tasks might fit in %d: weights+KV %d plus %d of activations each", n+1, n, p.TotalBytes, least)
	}
	for _, task := range p.Tasks {
		t.Logf("task %d: %.3f GiB, %d ops, in %v out %v", task.ID, float64(task.VRAM)/float64(gib), len(task.Ops), portNames(task.Inputs), portNames(task.Outputs))
	}
	for _, e := range p.Edges {
		if len(e.Names) != 1 || e.BytesPerToken != 8192*4 {
			t.Fatalf("edge %+v carries more than one residual vector", e)
		}
		var port Port
		for _, in := range p.Tasks[e.To].Inputs {
			if in.Name == e.Names[0] {
				port = in
			}
		}
		if op := p.Graph.Tensors[port.Tensor].Op; op != ir.OpAdd && op != ir.OpEmbed {
			t.Errorf("edge %+v carries a %v, not the residual stream", e, op)
		}
	}
}

func BenchmarkPartitionLlama70B(b *testing.B) {
	g := llama70B(b)
	cfg := Config{Cost: CostModel{Context: 4096}, Budget: 12 * gib}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Partition(g, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func portNames(ps []Port) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name)
	}
	return s
}
