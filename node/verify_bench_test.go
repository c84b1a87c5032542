package node_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
	"github.com/splitup/splitup/pipeline"
	"github.com/splitup/splitup/sample"
)

// BenchmarkVerifyOverhead measures what Proof of Sampling costs a validator
// relative to the asserters it checks: a session of a 16-token prompt and
// 112 decoded tokens runs through 2 tasks (the asserters' compute is the
// time their programs ran), then each task's record is recomputed in one
// batched prefill, as a drawn validator does. It reports the ratio and the
// expected overhead at p = 0.08 (each task drawn with probability p).
func BenchmarkVerifyOverhead(b *testing.B) {
	cfg := llama.Config{Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, Vocab: 4096, Context: 512}
	g, w := synthetic(b, cfg)
	var total int64
	for _, f := range w {
		total += int64(len(f.Data))
	}
	p, err := partition.Partition(g, partition.Config{Budget: total/2 + total/4, Cost: partition.CostModel{Chunk: 16}})
	if err != nil {
		b.Fatal(err)
	}
	model := [32]byte{5}
	ends := make(chan node.SessionEnd, len(p.Tasks))
	asserter := node.NewWorker(node.WorkerConfig{Threads: 1, OnSessionEnd: func(e node.SessionEnd) { ends <- e }})
	validator := node.NewWorker(node.WorkerConfig{Threads: 1})
	defer asserter.Close()
	defer validator.Close()
	var tasks []pipeline.Task
	for _, tk := range p.Tasks {
		sh, err := shard.Encode(tk.Graph, w)
		if err != nil {
			b.Fatal(err)
		}
		key := node.TaskKey{Model: model, Task: uint32(tk.ID)}
		if err := asserter.Load(key, sh); err != nil {
			b.Fatal(err)
		}
		validator.Load(key, sh)
		pt := pipeline.Task{ID: tk.ID}
		for _, in := range tk.Inputs {
			pt.Inputs = append(pt.Inputs, in.Name)
		}
		for _, o := range tk.Outputs {
			pt.Outputs = append(pt.Outputs, o.Name)
		}
		tasks = append(tasks, pt)
	}
	_, hk, _ := ed25519.GenerateKey(nil)
	h, _ := p2p.New(context.Background(), p2p.Config{Key: hk})
	defer h.Close()
	h.SetPipelineHandler(asserter.Serve)
	res := &staticResolver{primary: map[int]string{}}
	for i := range tasks {
		res.primary[i] = h.Addrs()[0]
	}
	_, ck, _ := ed25519.GenerateKey(nil)
	client, _ := p2p.New(context.Background(), p2p.Config{Key: ck})
	defer client.Close()
	prompt := make([]int32, 16)
	for i := range prompt {
		prompt[i] = int32(1 + 31*i)
	}
	var assertT, verifyT time.Duration
	ctx := context.Background()
	for b.Loop() {
		s, err := pipeline.Open(pipeline.Config{Host: client, Model: model, SessionID: "exec/1", Tasks: tasks, Resolver: res})
		if err != nil {
			b.Fatal(err)
		}
		logits, err := s.Forward(ctx, prompt, 0)
		if err != nil {
			b.Fatal(err)
		}
		for pos := len(prompt); pos < 128; pos++ {
			if logits, err = s.Forward(ctx, []int32{int32(sample.Argmax(logits))}, pos); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		for range tasks {
			e := <-ends
			assertT += e.Compute
			rec := map[string]*node.IRFrame{}
			for _, name := range e.Record.Names() {
				rec[name] = node.JoinRows(e.Record.Rows(name))
			}
			v, err := validator.Recompute(e.Key, rec, e.Inputs, e.Outputs, len(e.Record.Rows(e.Inputs[0].Name)))
			if err != nil || !v.Match {
				b.Fatalf("recompute: %v %+v", err, v)
			}
			verifyT += v.Compute
		}
	}
	ratio := verifyT.Seconds() / assertT.Seconds()
	b.ReportMetric(ratio, "verify/assert")
	b.ReportMetric(100*0.08*ratio, "overhead_%_at_p0.08")
}
