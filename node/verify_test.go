package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/pipeline"
	"github.com/splitup/splitup/sample"
)

// asserter starts a host running every task with the given fault and keeps
// the records of closed sessions as exec 1.
func (c *cluster) asserter(t *testing.T, fault *node.Fault) (*p2p.Host, map[uint32]node.SessionEnd) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	h, err := p2p.New(context.Background(), p2p.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ends := map[uint32]node.SessionEnd{}
	done := make(chan node.SessionEnd, len(c.shards))
	w := node.NewWorker(node.WorkerConfig{
		Fault:        fault,
		OnSessionEnd: func(e node.SessionEnd) { done <- e },
		Records: func(exec uint64, task uint32) *node.Record {
			if e, ok := ends[task]; ok && exec == 1 {
				return e.Record
			}
			return nil
		},
	})
	for i := range c.shards {
		if err := w.Load(node.TaskKey{Model: c.model, Task: uint32(i)}, c.shards[i]); err != nil {
			t.Fatal(err)
		}
	}
	h.SetPipelineHandler(w.Serve)
	t.Cleanup(func() { h.Close(); w.Close() })

	res := &staticResolver{primary: map[int]string{}}
	for i := range c.shards {
		res.primary[i] = h.Addrs()[0]
	}
	_, ck, _ := ed25519.GenerateKey(nil)
	client, err := p2p.New(context.Background(), p2p.Config{Key: ck})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := pipeline.Open(pipeline.Config{Host: client, Model: c.model, SessionID: "exec/1", Tasks: c.tasks, Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logits, err := s.Forward(ctx, []int32{1, 400, 300}, 0) // a prefill, then decode steps
	if err != nil {
		t.Fatal(err)
	}
	for pos := 3; pos < 40; pos++ {
		if logits, err = s.Forward(ctx, []int32{int32(sample.Argmax(logits))}, pos); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for len(ends) < len(c.shards) {
		select {
		case e := <-done:
			ends[e.Key.Task] = e
		case <-time.After(10 * time.Second):
			t.Fatal("sessions did not end")
		}
	}
	return h, ends
}

func (c *cluster) validator(t *testing.T) (*p2p.Host, *node.Worker) {
	_, key, _ := ed25519.GenerateKey(nil)
	h, err := p2p.New(context.Background(), p2p.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	w := node.NewWorker(node.WorkerConfig{})
	for i := range c.shards {
		w.Load(node.TaskKey{Model: c.model, Task: uint32(i)}, c.shards[i])
	}
	t.Cleanup(func() { h.Close(); w.Close() })
	return h, w
}

// TestVerifyHonestAndCheating: a validator recomputes each task of a
// 40-token session in one prefill, and in chunks of 16 rows, and agrees
// with an honest asserter by root, and catches an asserter that perturbs
// its outputs.
func TestVerifyHonestAndCheating(t *testing.T) {
	for _, chunk := range []int{64, 16} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			defer node.SetRecomputeChunk(chunk)()
			verifyHonestAndCheating(t)
		})
	}
}

func verifyHonestAndCheating(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	vh, vw := c.validator(t)
	ctx := context.Background()
	for _, cheat := range []bool{false, true} {
		var fault *node.Fault
		if cheat {
			f, err := node.ParseFault("wrong-output=1", 1)
			if err != nil {
				t.Fatal(err)
			}
			fault = f
		}
		ah, ends := c.asserter(t, fault)
		for task := range c.shards {
			e := ends[uint32(task)]
			rec, err := node.FetchRecord(ctx, vh, ah.Addrs()[0], c.model, 1, uint32(task))
			if err != nil {
				t.Fatal(err)
			}
			key := node.TaskKey{Model: c.model, Task: uint32(task)}
			rows := len(e.Record.Rows(e.Inputs[0].Name)) // what the node commits as its steps
			v, err := vw.Recompute(key, rec, e.Inputs, e.Outputs, rows)
			if err != nil {
				t.Fatal(err)
			}
			if v.Rows != 40 || rows != 40 {
				t.Errorf("recomputed %d rows of %d committed, want 40", v.Rows, rows)
			}
			if v.Match == cheat {
				t.Errorf("cheat=%v task %d: match=%v (%s)", cheat, task, v.Match, v.Reason)
			}
			if !cheat && v.Outputs[0].Root != e.Outputs[0].Root {
				t.Errorf("task %d: an honest recomputation must give the same root", task)
			}
			if cheat {
				continue
			}
			// The same honest record, committed as more steps than it holds.
			v, err = vw.Recompute(key, rec, e.Inputs, e.Outputs, rows+5)
			if err != nil {
				t.Fatal(err)
			}
			if v.Match || !strings.Contains(v.Reason, "claims 45 steps") || v.Outputs[0].Root == e.Outputs[0].Root {
				t.Errorf("task %d committed as 45 steps with 40 recorded: match=%v (%s), roots %x", task, v.Match, v.Reason, v.Outputs[0].Root)
			}
		}
	}
}

func TestWithheldRecord(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	f, _ := node.ParseFault("withhold", 1)
	ah, _ := c.asserter(t, f)
	vh, _ := c.validator(t)
	_, err := node.FetchRecord(context.Background(), vh, ah.Addrs()[0], c.model, 1, 0)
	var pe *p2p.Error
	if !errors.As(err, &pe) {
		t.Fatalf("withholding asserter: got %v, want a p2p error", err)
	}
}

// TestParseFault: the misbehaviours splitup-node --fault takes, and a
// clear error for others.
func TestParseFault(t *testing.T) {
	f, err := node.ParseFault("wrong-output=0.5, withhold,deaf", 1)
	if err != nil || f.WrongOutputRate != 0.5 || !f.Withhold || !f.Deaf {
		t.Fatalf("ParseFault: %+v, %v", f, err)
	}
	for _, bad := range []string{"wrong-output=2", "loud", ""} {
		if _, err := node.ParseFault(bad, 1); err == nil || !strings.Contains(err.Error(), "fault") {
			t.Errorf("ParseFault(%q): %v, want an error", bad, err)
		}
	}
}
