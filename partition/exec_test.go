package partition_test

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/partition"
)

// shardWeights binds a plan's weights: shards are row slices of their source.
type shardWeights struct {
	exec.Weights
	shards map[string]partition.Shard
}

func (w shardWeights) Weight(name string) (*ir.Frame, bool) {
	s, ok := w.shards[name]
	if !ok {
		return w.Weights.Weight(name)
	}
	src, ok := w.Weights.Weight(s.Source)
	if !ok {
		return nil, false
	}
	f, err := s.Slice(src)
	return f, err == nil
}

// pipeline runs a plan's tasks one after another, as stages would.
type pipeline struct {
	plan     *partition.Plan
	sessions []*exec.Session
}

func newPipeline(t *testing.T, p *partition.Plan, w exec.Weights) *pipeline {
	sw := shardWeights{w, map[string]partition.Shard{}}
	for _, s := range p.Shards {
		sw.shards[s.Name] = s
	}
	pl := &pipeline{plan: p}
	for _, task := range p.Tasks {
		prog, err := exec.New(task.Graph, sw, exec.Options{})
		if err != nil {
			t.Fatalf("task %d: %v", task.ID, err)
		}
		t.Cleanup(func() { prog.Close() })
		pl.sessions = append(pl.sessions, prog.NewSession())
	}
	return pl
}

// run feeds the model inputs through every task and returns all values by name.
func (pl *pipeline) run(t *testing.T, inputs map[string]exec.Tensor) map[string]exec.Tensor {
	vals := map[string]exec.Tensor{}
	for k, v := range inputs {
		vals[k] = v
	}
	for _, task := range pl.plan.Tasks {
		in := map[string]exec.Tensor{}
		for _, port := range task.Inputs {
			in[port.Name] = vals[port.Name]
		}
		out, err := pl.sessions[task.ID].Run(in)
		if err != nil {
			t.Fatalf("task %d: %v", task.ID, err)
		}
		for k, v := range out {
			vals[k] = v
		}
	}
	return vals
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func argmax(row []float32) int32 {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return int32(best)
}

// TestStories260KTasksEqualWholeGraph plans stories260K into several tasks
// and checks, over a prefill and greedy decoding steps, that the tasks run
// in sequence give the whole graph's logits bit for bit.
func TestStories260KTasksEqualWholeGraph(t *testing.T) {
	path := "../../shared/models/tinyllamas-stories-260k-f32.gguf"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("model not present: %v", err)
	}
	m, err := models.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := partition.Partition(m.Graph, partition.Config{Budget: 300 << 10, Cost: partition.CostModel{Chunk: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) < 3 {
		t.Fatalf("%d tasks, want at least 3", len(p.Tasks))
	}
	t.Logf("%d tasks (lower bound %d), stages %v", len(p.Tasks), p.LowerBound, p.Stages())

	whole, err := exec.New(m.Graph, m, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	ws, pl := whole.NewSession(), newPipeline(t, p, m)

	// A prefill of 4 rows, then greedy decoding one token per step.
	tokens, pos := []int32{1, 403, 407, 261}, []int32{0, 1, 2, 3}
	for step := 0; step < 24; step++ {
		next := compareStep(t, ws, pl, tokens, pos)
		tokens, pos = []int32{next}, []int32{pos[len(pos)-1] + 1}
	}

	// From BOS with no prompt, the greedy text is llama2.c's golden story.
	tok := m.Tokenizer
	if tok == nil {
		t.Skip("model has no embedded tokenizer")
	}
	ws, pl = whole.NewSession(), newPipeline(t, p, m)
	prev, text := int32(tok.BOS()), ""
	for step := int32(0); step < 60; step++ {
		next := compareStep(t, ws, pl, []int32{prev}, []int32{step})
		text += tok.Decode(int(prev), int(next))
		prev = next
	}
	const want = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
	if len(text) < len(want) || text[:len(want)] != want {
		t.Errorf("greedy text %q, want it to start %q", text, want)
	}
}

// compareStep runs one step on the whole graph and on the pipeline,
// fails unless the logits are equal bit for bit, and returns the greedy
// next token.
func compareStep(t *testing.T, ws *exec.Session, pl *pipeline, tokens, pos []int32) int32 {
	t.Helper()
	in := map[string]exec.Tensor{"tokens": exec.I32s(tokens...), "pos": exec.I32s(pos...)}
	want, err := ws.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	got := pl.run(t, in)["logits"]
	if !sameBits(got.F32, want["logits"].F32) {
		t.Fatalf("position %d: logits differ", pos[0])
	}
	return argmax(want["logits"].Row(len(tokens) - 1))
}

// TestSplitMatMulRunsBitExact splits an oversize MatMul into row shards and
// checks the plan against the whole graph on random inputs.
func TestSplitMatMulRunsBitExact(t *testing.T) {
	b := ir.NewBuilder()
	x := b.Input("x", ir.F32, ir.Shape{64})
	h := b.MatMul(x, b.Weight("big", ir.F32, ir.Shape{300, 64}))
	b.Output("y", b.MatMul(b.Relu(h), b.Weight("out", ir.F32, ir.Shape{8, 300})))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	w := exec.WeightMap{"big": randomFrame(r, 300, 64), "out": randomFrame(r, 8, 300)}
	p, err := partition.Partition(g, partition.Config{Budget: 40000, Cost: partition.CostModel{Chunk: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Shards) < 2 {
		t.Fatalf("no split: %d shards", len(p.Shards))
	}
	prog, err := exec.New(g, w, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	xs := exec.Tensor{DType: ir.F32, Shape: ir.Shape{3, 64}, F32: make([]float32, 3*64)}
	for i := range xs.F32 {
		xs.F32[i] = r.Float32()*2 - 1
	}
	in := map[string]exec.Tensor{"x": xs}
	want, err := prog.NewSession().Run(in)
	if err != nil {
		t.Fatal(err)
	}
	got := newPipeline(t, p, w).run(t, in)["y"]
	if !sameBits(got.F32, want["y"].F32) {
		t.Fatal("split plan differs from the whole graph")
	}
	t.Logf("%d shards in %d tasks", len(p.Shards), len(p.Tasks))
}

func randomFrame(r *rand.Rand, rows, cols int) *ir.Frame {
	f := &ir.Frame{DType: ir.F32, Shape: ir.Shape{rows, cols}, Data: make([]byte, 4*rows*cols)}
	for i := 0; i < rows*cols; i++ {
		bits := math.Float32bits(r.Float32()*2 - 1)
		f.Data[4*i], f.Data[4*i+1], f.Data[4*i+2], f.Data[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	return f
}

// TestParallelBranchTasksRunBitExact plans a LLaMA whose feed-forward
// projections cannot share a task, so gate and up become parallel tasks,
// and checks the plan against the whole graph with random weights.
func TestParallelBranchTasksRunBitExact(t *testing.T) {
	c := llama.Config{Dim: 64, HiddenDim: 1024, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 64, Context: 32}.Defaults()
	g, err := llama.Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	w := exec.WeightMap{}
	for _, i := range g.OfKind(ir.KindWeight) {
		tw := &g.Tensors[i]
		rows, cols := 1, tw.Shape[0]
		if len(tw.Shape) == 2 {
			rows, cols = tw.Shape[0], tw.Shape[1]
		}
		f := randomFrame(r, rows, cols)
		f.Shape = tw.Shape.Clone()
		w[tw.Name] = f
	}
	p, err := partition.Partition(g, partition.Config{Budget: 300 << 10, Cost: partition.CostModel{Chunk: 1}})
	if err != nil {
		t.Fatal(err)
	}
	parallel := 0
	for _, st := range p.Stages() {
		if len(st) > 1 {
			parallel++
		}
	}
	if parallel < c.Layers {
		t.Fatalf("stages %v: want gate and up of each layer in parallel", p.Stages())
	}
	prog, err := exec.New(g, w, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	ws, pl := prog.NewSession(), newPipeline(t, p, w)
	tokens, pos := []int32{1, 7, 9}, []int32{0, 1, 2}
	for step := 0; step < 8; step++ {
		next := compareStep(t, ws, pl, tokens, pos)
		tokens, pos = []int32{next}, []int32{pos[len(pos)-1] + 1}
	}
	t.Logf("%d tasks, stages %v", len(p.Tasks), p.Stages())
}
