package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
)

// TestSessionEndsAtDeadline: a session whose authorizer gave it an end
// time is ended then, with Error{CodeDeadline} to its client, and reported
// with the steps it ran (so the node commits them in time), even though
// the client kept it open.
func TestSessionEndsAtDeadline(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	until := time.Now().Add(time.Second)
	w := node.NewWorker(node.WorkerConfig{
		Authorize: func(context.Context, p2p.PeerID, string, node.TaskKey) (time.Time, error) {
			return until, nil
		},
		OnSessionEnd: func(e node.SessionEnd) { c.ends <- e },
	})
	if err := w.Load(node.TaskKey{Model: c.model, Task: 0}, c.shards[0]); err != nil {
		t.Fatal(err)
	}
	s := c.openSession(t, serveWorker(t, w), 0)
	for pos := range 2 {
		ids := exec.Tensor{DType: ir.I32, Shape: ir.Shape{1}, I32: []int32{1}}.Frame()
		step := &p2p.Step{SessionID: "exec-1", Index: uint64(pos), Positions: []int32{int32(pos)}, Tensors: []p2p.NamedTensor{{Name: "tokens", Frame: *ids}}}
		if r, ok := exchangeOn(t, s, step).(*p2p.StepResult); !ok || len(r.Tensors) == 0 {
			t.Fatalf("step %d: %v", pos, r)
		}
	}
	select {
	case e := <-c.ends:
		t.Fatalf("session ended before its deadline: %+v", e)
	case <-time.After(time.Until(until) - 300*time.Millisecond):
	}
	r, err := s.Recv() // the client sends nothing more and waits
	if e, ok := r.(*p2p.Error); err != nil || !ok || e.Code != p2p.CodeDeadline {
		t.Fatalf("after the deadline the client read %v, %v; want Error{CodeDeadline}", r, err)
	}
	if late := time.Since(until); late < 0 || late > 2*time.Second {
		t.Fatalf("session ended %v after its deadline", late)
	}
	select {
	case e := <-c.ends:
		if e.Steps != 2 || rows(e) != 2 {
			t.Fatalf("session reported %d steps, %d rows; want 2", e.Steps, rows(e))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session's end was not reported")
	}
}

// TestSessionUntil: a session ends the margin before its task's deadline,
// or halfway there when the deadline is closer than twice the margin, and
// at once when it has passed.
func TestSessionUntil(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, c := range []struct{ left, margin, want time.Duration }{
		{time.Minute, 5 * time.Second, 55 * time.Second},
		{10 * time.Second, 5 * time.Second, 5 * time.Second},
		{4 * time.Second, 5 * time.Second, 2 * time.Second},
		{-time.Second, 5 * time.Second, 0},
		{10 * time.Minute, 30 * time.Second, 570 * time.Second},
	} {
		if got := node.SessionUntil(now, now.Add(c.left), c.margin).Sub(now); got != c.want {
			t.Errorf("deadline in %v, margin %v: session ends after %v, want %v", c.left, c.margin, got, c.want)
		}
	}
}

// TestRecordDone: a node lets go of a task's record when the task settled,
// was cancelled or went to another node, not because its execution was
// cancelled or failed: a task committed before that still settles after
// its challenge window, and a validator may fetch the record meanwhile.
func TestRecordDone(t *testing.T) {
	self, other := contract.Address{1}, contract.Address{2}
	for _, c := range []struct {
		exec, task string
		node       contract.Address
		done       bool
	}{
		{"cancelled", "committed", self, false},
		{"failed", "committed", self, false},
		{"completed", "committed", self, false},
		{"cancelled", "settled", self, true},
		{"cancelled", "cancelled", self, true},
		{"running", "running", other, true},
		{"settled", "settled", self, true},
	} {
		e := &contract.ExecutionInfo{State: c.exec, Tasks: []contract.TaskInfo{{State: c.task, Node: c.node}}}
		if got := node.RecordDone(e, 0, self); got != c.done {
			t.Errorf("execution %s, task %s on %v: done %v, want %v", c.exec, c.task, c.node == self, got, c.done)
		}
	}
	if !node.RecordDone(&contract.ExecutionInfo{}, 3, self) {
		t.Error("a task the execution does not have: not done")
	}
}
