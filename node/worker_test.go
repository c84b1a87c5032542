package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
)

// TestLoadKeepsNoShardBytes: a worker computes the same after the bytes
// it loaded a shard from are overwritten (the daemon unmaps the shard file
// once Load returns).
func TestLoadKeepsNoShardBytes(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	answer := func(scribble bool) []byte {
		b := bytes.Clone(c.shards[0])
		w := node.NewWorker(node.WorkerConfig{})
		if err := w.Load(node.TaskKey{Model: c.model, Task: 0}, b); err != nil {
			t.Fatal(err)
		}
		if scribble {
			for i := range b {
				b[i] = 0xA5
			}
		}
		s := c.openSession(t, serveWorker(t, w), 0)
		ids := exec.Tensor{DType: ir.I32, Shape: ir.Shape{3}, I32: []int32{1, 403, 407}}.Frame()
		step := &p2p.Step{SessionID: "exec-1", Positions: []int32{0, 1, 2}, Tensors: []p2p.NamedTensor{{Name: "tokens", Frame: *ids}}}
		r, ok := exchangeOn(t, s, step).(*p2p.StepResult)
		if !ok || len(r.Tensors) == 0 {
			t.Fatalf("step: %v", r)
		}
		var out []byte
		for _, nt := range r.Tensors {
			out = append(out, nt.Frame.Data...)
		}
		return out
	}
	want, got := answer(false), answer(true)
	if !slices.Equal(got, want) {
		t.Fatal("the worker's answer changed when the shard bytes it was loaded from were overwritten")
	}
}

// serveWorker starts a host whose pipeline handler is w; both are closed
// at the end of t.
func serveWorker(t *testing.T, w *node.Worker) *p2p.Host {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	h, err := p2p.New(context.Background(), p2p.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	h.SetPipelineHandler(w.Serve)
	t.Cleanup(func() { h.Close(); w.Close() })
	return h
}

// openSession opens session "exec-1" of the cluster model's task on h from
// a new client and returns its stream (10 s timeouts), reset at the end of t.
func (c *cluster) openSession(t *testing.T, h *p2p.Host, task uint32) *p2p.Stream {
	t.Helper()
	return c.openSessionAs(t, newClient(t), h, task)
}

// openSessionAs is openSession from the given client.
func (c *cluster) openSessionAs(t *testing.T, client, h *p2p.Host, task uint32) *p2p.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.Connect(ctx, h.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	s, err := client.OpenPipeline(ctx, h.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Reset)
	s.SetTimeouts(10*time.Second, 10*time.Second)
	if r := exchangeOn(t, s, &p2p.OpenSession{SessionID: "exec-1", ModelID: c.model, TaskID: task}); r.Type() != p2p.TypeStepResult {
		t.Fatalf("open task %d: %v", task, r)
	}
	return s
}
