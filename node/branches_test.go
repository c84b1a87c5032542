package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
	"github.com/splitup/splitup/pipeline"
)

// towers builds x → stem → two independent towers → sum → head.
func towers(t *testing.T, width, depth int) (*ir.Graph, exec.WeightMap) {
	b := ir.NewBuilder()
	w := exec.WeightMap{}
	r := rand.New(rand.NewPCG(1, 2))
	weight := func(name string, rows, cols int) ir.Ref {
		data := make([]byte, 4*rows*cols)
		for i := 0; i < rows*cols; i++ {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(r.NormFloat64()/math.Sqrt(float64(cols)))))
		}
		w[name] = &ir.Frame{DType: ir.F32, Shape: ir.Shape{rows, cols}, Data: data}
		return b.Weight(name, ir.F32, ir.Shape{rows, cols})
	}
	x := b.Input("x", ir.F32, ir.Shape{width})
	stem := b.Name(b.MatMul(x, weight("stem", width, width)), "stem_out")
	tower := func(p string) ir.Ref {
		h := stem
		for i := 0; i < depth; i++ {
			h = b.Relu(b.MatMul(h, weight(p+string(rune('0'+i)), width, width)))
		}
		return b.Name(h, p+"out")
	}
	a, c := tower("a"), tower("b")
	b.Output("y", b.MatMul(b.Add(a, c), weight("head", 16, width)))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g, w
}

// TestBranchesRunInParallel: the two towers become tasks of one level on two
// nodes, and their step intervals overlap in time.
func TestBranchesRunInParallel(t *testing.T) {
	const width, depth, rows = 512, 3, 64
	g, weights := towers(t, width, depth)
	tower := int64(depth * width * width * 4)
	p, err := partition.Partition(g, partition.Config{Budget: tower + tower/2, Cost: partition.CostModel{Chunk: rows}})
	if err != nil {
		t.Fatal(err)
	}
	stages := p.Stages()
	var par []int
	for _, s := range stages {
		if len(s) == 2 {
			par = s
		}
	}
	if par == nil {
		t.Fatalf("no level with two parallel tasks: stages %v", stages)
	}
	model := [32]byte{9}
	res := &staticResolver{primary: map[int]string{}}
	var tasks []pipeline.Task
	for _, tk := range p.Tasks {
		sh, err := shard.Encode(tk.Graph, weights)
		if err != nil {
			t.Fatal(err)
		}
		_, key, _ := ed25519.GenerateKey(nil)
		h, err := p2p.New(context.Background(), p2p.Config{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		wk := node.NewWorker(node.WorkerConfig{})
		if err := wk.Load(node.TaskKey{Model: model, Task: uint32(tk.ID)}, sh); err != nil {
			t.Fatal(err)
		}
		h.SetPipelineHandler(wk.Serve)
		t.Cleanup(func() { h.Close(); wk.Close() })
		res.primary[tk.ID] = h.Addrs()[0]
		pt := pipeline.Task{ID: tk.ID}
		for _, in := range tk.Inputs {
			pt.Inputs = append(pt.Inputs, in.Name)
		}
		for _, o := range tk.Outputs {
			pt.Outputs = append(pt.Outputs, o.Name)
		}
		tasks = append(tasks, pt)
	}
	_, ck, _ := ed25519.GenerateKey(nil)
	client, _ := p2p.New(context.Background(), p2p.Config{Key: ck})
	defer client.Close()
	s, err := pipeline.Open(pipeline.Config{Host: client, Model: model, SessionID: "branches", Tasks: tasks, Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	spans := map[int][2]int64{}
	s.Timing = func(task int, start, end int64) {
		mu.Lock()
		spans[task] = [2]int64{start, end}
		mu.Unlock()
	}
	x := make([]float32, rows*width)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	in := exec.Tensor{DType: ir.F32, Shape: ir.Shape{rows, width}, F32: x}
	pos := make([]int32, rows)
	overlapped := false
	for try := 0; try < 6 && !overlapped; try++ {
		if _, err := s.Run(context.Background(), pos, []p2p.NamedTensor{{Name: "x", Frame: *in.Frame()}}); err != nil {
			t.Fatal(err)
		}
		if try == 0 {
			continue // the first step also opens the streams
		}
		a, b := spans[par[0]], spans[par[1]]
		overlapped = a[0] < b[1] && b[0] < a[1]
		t.Logf("step %d: task %d ran from 0 to %d µs, task %d from %d to %d µs", try, par[0], (a[1]-a[0])/1e3, par[1], (b[0]-a[0])/1e3, (b[1]-a[0])/1e3)
	}
	if !overlapped {
		t.Fatalf("branch tasks %v never overlapped in time", par)
	}
}
