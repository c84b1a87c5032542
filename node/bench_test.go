package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
	"github.com/splitup/splitup/pipeline"
	"github.com/splitup/splitup/sample"
)

// synthetic returns a LLaMA graph with seeded random f32 weights (not a
// trained model; for timing only).
func synthetic(b testing.TB, c llama.Config) (*ir.Graph, exec.WeightMap) {
	g, err := llama.Build(c.Defaults(), nil)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	w := exec.WeightMap{}
	for _, i := range g.OfKind(ir.KindWeight) {
		t := &g.Tensors[i]
		n := int(t.Shape.Elems())
		data := make([]byte, 4*n)
		for j := 0; j < n; j++ {
			v := float32(r.NormFloat64() * 0.02)
			if len(t.Shape) == 1 {
				v = 1
			}
			binary.LittleEndian.PutUint32(data[4*j:], math.Float32bits(v))
		}
		w[t.Name] = &ir.Frame{DType: ir.F32, Shape: t.Shape.Clone(), Data: data}
	}
	return g, w
}

// BenchmarkPipelineVsLocal decodes on a synthetic 8-layer model split into
// 4 tasks on 4 in-process nodes over loopback TCP, and on one local program,
// alternating, with 1 compute thread each, greedy (the pipeline's last node
// sends the argmax, as for the gateway); it reports both rates, their
// ratio and the time to first token (session open + 16-token prefill),
// at the default GOMAXPROCS and at 1. The pipeline runs twice per
// iteration, with the nodes passing activations to each other (the
// default) and with every activation through the client (NoRelay:
// client_tok/s, client_ratio).
func BenchmarkPipelineVsLocal(b *testing.B) {
	cfg := llama.Config{Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, Vocab: 4096, Context: 512}
	g, w := synthetic(b, cfg)
	var total int64
	for _, f := range w {
		total += int64(len(f.Data))
	}
	p, err := partition.Partition(g, partition.Config{Budget: total/4 + total/8, Cost: partition.CostModel{Chunk: 16}})
	if err != nil {
		b.Fatal(err)
	}
	model := [32]byte{4}
	res := &staticResolver{primary: map[int]string{}}
	var tasks []pipeline.Task
	for _, tk := range p.Tasks {
		sh, err := shard.Encode(tk.Graph, w)
		if err != nil {
			b.Fatal(err)
		}
		_, key, _ := ed25519.GenerateKey(nil)
		h, err := p2p.New(context.Background(), p2p.Config{Key: key})
		if err != nil {
			b.Fatal(err)
		}
		wk := node.NewWorker(node.WorkerConfig{Threads: 1})
		if err := wk.Load(node.TaskKey{Model: model, Task: uint32(tk.ID)}, sh); err != nil {
			b.Fatal(err)
		}
		h.SetPipelineHandler(wk.Serve)
		defer h.Close()
		defer wk.Close()
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
	local, err := exec.New(g, w, exec.Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	// The machine's default, and one P for everything: on a few-vCPU VM
	// every message that wakes a goroutine on an idle vCPU costs a
	// hypervisor wake-up, which one P avoids (both engines compute on
	// one thread either way).
	for _, procs := range []int{runtime.GOMAXPROCS(0), 1} {
		b.Run(fmt.Sprintf("gomaxprocs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			pipelineVsLocal(b, client, model, tasks, res, local, len(p.Tasks))
		})
	}
}

func pipelineVsLocal(b *testing.B, client *p2p.Host, model [32]byte, tasks []pipeline.Task, res pipeline.Resolver, local *exec.Program, stages int) {
	prompt := make([]int32, 16)
	for i := range prompt {
		prompt[i] = int32(1 + i*37)
	}
	const gen = 32
	var pipeT, clientT, localT, ttft time.Duration
	ctx := context.Background()
	decode := func(noRelay bool) (ttft, dec time.Duration) {
		t0 := time.Now()
		s, err := pipeline.Open(pipeline.Config{Host: client, Model: model, SessionID: "bench", Tasks: tasks, Resolver: res, NoRelay: noRelay})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		tok, err := s.ForwardArgmax(ctx, prompt, 0) // greedy, as the gateway decodes
		if err != nil {
			b.Fatal(err)
		}
		ttft = time.Since(t0)
		t0 = time.Now()
		for pos := len(prompt); pos < len(prompt)+gen; pos++ {
			if tok, err = s.ForwardArgmax(ctx, []int32{int32(tok)}, pos); err != nil {
				b.Fatal(err)
			}
		}
		if s.Relaying() == noRelay {
			b.Fatalf("relaying %v with NoRelay %v", s.Relaying(), noRelay)
		}
		return ttft, time.Since(t0)
	}
	for i := 0; b.Loop(); i++ {
		t, d := decode(false)
		ttft += t
		pipeT += d
		_, d = decode(true)
		clientT += d

		ls := local.NewSession()
		pos := make([]int32, len(prompt))
		for j := range pos {
			pos[j] = int32(j)
		}
		out, _ := ls.Run(map[string]exec.Tensor{"tokens": exec.I32s(prompt...), "pos": exec.I32s(pos...)})
		l := out["logits"]
		next := int32(sample.Argmax(l.Row(l.Rows() - 1)))
		t0 := time.Now()
		for p := len(prompt); p < len(prompt)+gen; p++ {
			out, _ = ls.Run(map[string]exec.Tensor{"tokens": exec.I32s(next), "pos": exec.I32s(int32(p))})
			next = int32(sample.Argmax(out["logits"].F32))
		}
		localT += time.Since(t0)
	}
	n := float64(b.N * gen)
	b.ReportMetric(float64(stages), "stages")
	b.ReportMetric(n/pipeT.Seconds(), "pipeline_tok/s")
	b.ReportMetric(n/localT.Seconds(), "local_tok/s")
	b.ReportMetric(localT.Seconds()/pipeT.Seconds(), "ratio")
	b.ReportMetric(n/clientT.Seconds(), "client_tok/s")
	b.ReportMetric(localT.Seconds()/clientT.Seconds(), "client_ratio")
	b.ReportMetric(ttft.Seconds()*1e3/float64(b.N), "ttft_ms")
}
