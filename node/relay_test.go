package node_test

import (
	"context"
	"crypto/ed25519"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/sample"
)

// TestRelayMatchesClientRouted decodes the same greedy text twice over
// stories260K with every task on its own host: once with the nodes passing
// activations to each other, once with every activation through the
// client. The tokens, and every task's commitments, are the same.
func TestRelayMatchesClientRouted(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	res := &staticResolver{primary: map[int]string{}}
	for i := range c.tasks {
		res.primary[i] = c.serve(t, i).Addrs()[0]
	}
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(id string, noRelay bool) []int32 {
		sess := c.open(t, client, id, res, noRelay)
		defer sess.Close()
		hist := []int32{1, 403, 407} // a batched prefill, then single steps
		done := 0
		for len(hist) < 50 {
			logits, err := sess.Forward(ctx, hist[done:], done)
			if err != nil {
				t.Fatalf("%s at %d: %v", id, done, err)
			}
			if sess.Relaying() == noRelay {
				t.Fatalf("%s at %d: relaying %v", id, done, sess.Relaying())
			}
			done = len(hist)
			hist = append(hist, int32(sample.Argmax(logits)))
		}
		return hist
	}
	relayed, routed := run("relay", false), run("client", true)
	if !slices.Equal(relayed, routed) {
		t.Fatalf("relayed tokens %v\nclient-routed tokens %v", relayed, routed)
	}
	ends := c.sessionEnds(t, 2*len(c.tasks))
	for task, r := range ends["relay"] {
		cr := ends["client"][task]
		if !slices.Equal(r.Outputs, cr.Outputs) || !slices.Equal(r.Inputs, cr.Inputs) || r.Steps != cr.Steps {
			t.Errorf("task %d committed differently when relaying", task)
		}
		want := r.Steps // every step but the first stage's came from the stage before
		if task == 0 {
			want = 0
		}
		if r.Relayed != want || cr.Relayed != 0 {
			t.Errorf("task %d: %d of %d steps relayed in (client-routed: %d), want %d", task, r.Relayed, r.Steps, cr.Relayed, want)
		}
	}
}

// TestRelayNodeDiesMidStep loses the node of a middle task in the middle
// of a relayed step: right after it computed (nothing passed on: the
// session finishes the step through the client, fetching the outputs of
// the stages that ran it and rebuilding the lost stage on a replacement
// from the records of the stage before), or after it passed its outputs
// on and the next stage ran them (the step may still finish by relaying;
// the loss shows at the next step at the latest). Either way the session
// goes on without relaying and the logits match one local process bit for
// bit.
func TestRelayNodeDiesMidStep(t *testing.T) {
	m := loadStories(t)
	for _, when := range []string{"after run", "after relay"} {
		t.Run(strings.ReplaceAll(when, " ", "-"), func(t *testing.T) {
			c := newCluster(t, m)
			mid := len(c.tasks) / 2
			const dieAt = 20
			var victim *p2p.Host
			var once sync.Once
			nextRan := make(chan struct{})
			die := func(task uint32, step uint64) {
				if step != dieAt {
					return
				}
				once.Do(func() {
					if when == "after relay" {
						select {
						case <-nextRan:
						case <-time.After(10 * time.Second):
							t.Error("the next stage did not run the relayed step")
						}
					}
					go victim.Close()
					<-victim.Done() // its streams are reset: nothing this step sends gets out
				})
			}
			f := &node.Fault{AfterRun: die}
			if when == "after relay" {
				f = &node.Fault{AfterRelay: die}
			}
			next := &node.Fault{AfterRun: func(task uint32, step uint64) {
				if step == dieAt {
					close(nextRan)
				}
			}}
			res := &staticResolver{primary: map[int]string{}}
			for i := range c.tasks {
				switch i {
				case mid:
					victim = c.serveFault(t, f, i)
					res.primary[i] = victim.Addrs()[0]
				case mid + 1:
					res.primary[i] = c.serveFault(t, next, i).Addrs()[0]
				default:
					res.primary[i] = c.serve(t, i).Addrs()[0]
				}
			}
			res.backup = c.serveAll(t).Addrs()[0]
			sess := c.open(t, newClient(t), "s", res, false)
			ls := localSession(t, m)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tok := int32(1)
			for pos := range 40 {
				got, err := sess.Forward(ctx, []int32{tok}, pos)
				if err != nil {
					t.Fatalf("step %d: %v", pos, err)
				}
				if r := sess.Relaying(); r != (pos < dieAt) && (pos != dieAt || when != "after relay") {
					t.Fatalf("step %d: relaying %v", pos, r)
				}
				out, err := ls.Run(map[string]exec.Tensor{"tokens": exec.I32s(tok), "pos": exec.I32s(int32(pos))})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, out["logits"].F32) {
					t.Fatalf("step %d: logits over the pipeline differ from the local ones", pos)
				}
				tok = int32(sample.Argmax(got))
			}
			if !slices.Equal(res.failed, []int{mid}) {
				t.Fatalf("failed over %v, want [%d]", res.failed, mid)
			}
		})
	}
}

// TestRelayRefusals: a relay stream into a session that is not open, or not
// routed to take steps from that peer, is refused; a route to a node that
// cannot be reached is refused with CodeRelay and leaves the session
// taking steps from its client; a route's answer counts the steps run; a
// Fetch returns recorded rows and nothing else.
func TestRelayRefusals(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	h := c.serve(t, 0, 1)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func() *p2p.Stream {
		s, err := client.OpenPipeline(ctx, h.ID())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Reset)
		return s
	}
	exchange := func(s *p2p.Stream, m p2p.Message) p2p.Message {
		t.Helper()
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
		r, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	isErr := func(m p2p.Message, code uint32, text string) bool {
		e, ok := m.(*p2p.Error)
		return ok && e.Code == code && strings.Contains(e.Text, text)
	}
	if _, err := client.Connect(ctx, h.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	if r := exchange(open(), &p2p.Attach{SessionID: "none", ModelID: c.model, TaskID: 1}); !isErr(r, p2p.CodeUnknownSession, "no session") {
		t.Fatalf("attach to a session that is not open: %v", r)
	}
	sess := open()
	if r := exchange(sess, &p2p.OpenSession{SessionID: "r", ModelID: c.model, TaskID: 1}); r.Type() != p2p.TypeStepResult {
		t.Fatalf("open: %v", r)
	}
	if r := exchange(open(), &p2p.Attach{SessionID: "r", ModelID: c.model, TaskID: 1}); !isErr(r, p2p.CodeProtocol, "not routed") {
		t.Fatalf("attach to a session not routed: %v", r)
	}
	if r := exchange(sess, &p2p.Route{SessionID: "r", On: true, Prev: "12D3KooWSomeoneElse"}); r.Type() != p2p.TypeStepResult {
		t.Fatalf("route: %v", r)
	}
	if r := exchange(open(), &p2p.Attach{SessionID: "r", ModelID: c.model, TaskID: 1}); !isErr(r, p2p.CodeProtocol, "not routed to take steps from "+client.ID().String()) {
		t.Fatalf("attach from a peer the route does not name: %v", r)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	pid, _ := p2p.PeerIDFromPublicKey(other.Public().(ed25519.PublicKey))
	gone := "/ip4/127.0.0.1/tcp/1/p2p/" + pid.String()
	if r := exchange(sess, &p2p.Route{SessionID: "r", On: true, Next: gone, NextTask: 2}); !isErr(r, p2p.CodeRelay, "route session r to task 2") {
		t.Fatalf("route to an unreachable node: %v", r)
	}
	// The session still runs the client's steps and answers them.
	x := exec.Tensor{DType: ir.F32, Shape: ir.Shape{1, m.Config.Dim}, F32: make([]float32, m.Config.Dim)}.Frame()
	step := &p2p.Step{SessionID: "r", Positions: []int32{0}, Tensors: []p2p.NamedTensor{{Name: c.tasks[1].Inputs[0], Frame: *x}}}
	if r, ok := exchange(sess, step).(*p2p.StepResult); !ok || r.Index != 0 || len(r.Tensors) == 0 {
		t.Fatalf("step after a refused route: %v", r)
	}
	if r, ok := exchange(sess, &p2p.Route{SessionID: "r"}).(*p2p.StepResult); !ok || r.Index != 1 || len(r.Tensors) != 0 {
		t.Fatalf("un-route after one step: %v, want an answer counting 1 step", r)
	}
	// Fetch returns recorded rows, and refuses names and rows not recorded.
	in := c.tasks[1].Inputs[0]
	r, ok := exchange(sess, &p2p.Fetch{SessionID: "r", Name: in, Count: 1}).(*p2p.StepResult)
	if !ok || len(r.Tensors) != 1 || !slices.Equal(r.Tensors[0].Frame.Data, x.Data) || !slices.Equal(r.Tensors[0].Frame.Shape, x.Shape) {
		t.Fatalf("fetch of the recorded input: %v", r)
	}
	if r := exchange(sess, &p2p.Fetch{SessionID: "r", Name: "nope", Count: 1}); !isErr(r, p2p.CodeBadInput, `records no tensor "nope"`) {
		t.Fatalf("fetch of a tensor not recorded: %v", r)
	}
	if r := exchange(sess, &p2p.Fetch{SessionID: "r", Name: in, From: 1, Count: 1}); !isErr(r, p2p.CodeBadInput, "rows 1..2") {
		t.Fatalf("fetch beyond the record: %v", r)
	}
}
