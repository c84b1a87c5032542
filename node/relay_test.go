package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/pipeline"
	"github.com/splitup/splitup/sample"
)

// TestRelayMatchesClientRouted decodes the same greedy text twice over
// stories260K with every task on its own host: once with the nodes passing
// activations to each other, once with every activation through the
// client. The tokens, and every task's commitments, are the same.
func TestRelayMatchesClientRouted(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	res := c.hostPerTask(t)
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
	isErr := func(m p2p.Message, code uint32, text string) bool {
		e, ok := m.(*p2p.Error)
		return ok && e.Code == code && strings.Contains(e.Text, text)
	}
	if _, err := client.Connect(ctx, h.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	me := client.ID().String()
	if r := exchangeOn(t, open(), &p2p.Attach{SessionID: "none", ModelID: c.model, TaskID: 1, Client: me}); !isErr(r, p2p.CodeUnknownSession, "no session") {
		t.Fatalf("attach to a session that is not open: %v", r)
	}
	sess := open()
	if r := exchangeOn(t, sess, &p2p.OpenSession{SessionID: "r", ModelID: c.model, TaskID: 1}); r.Type() != p2p.TypeStepResult {
		t.Fatalf("open: %v", r)
	}
	if r := exchangeOn(t, open(), &p2p.Attach{SessionID: "r", ModelID: c.model, TaskID: 1, Client: me}); !isErr(r, p2p.CodeProtocol, "not routed") {
		t.Fatalf("attach to a session not routed: %v", r)
	}
	if r := exchangeOn(t, sess, &p2p.Route{SessionID: "r", On: true, Prev: "12D3KooWSomeoneElse"}); r.Type() != p2p.TypeStepResult {
		t.Fatalf("route: %v", r)
	}
	if r := exchangeOn(t, open(), &p2p.Attach{SessionID: "r", ModelID: c.model, TaskID: 1, Client: me}); !isErr(r, p2p.CodeProtocol, "not routed to take steps from "+me) {
		t.Fatalf("attach from a peer the route does not name: %v", r)
	}
	// Another client's session "r" is not this one.
	if r := exchangeOn(t, open(), &p2p.Attach{SessionID: "r", ModelID: c.model, TaskID: 1, Client: "12D3KooWSomeoneElse"}); !isErr(r, p2p.CodeUnknownSession, "for client 12D3KooWSomeoneElse") {
		t.Fatalf("attach naming another client: %v", r)
	}
	if r := exchangeOn(t, sess, &p2p.Route{SessionID: "r", On: true, Next: h.Addrs()[0], NextTask: 1}); !isErr(r, p2p.CodeBadInput, "to itself") {
		t.Fatalf("route a session to itself: %v", r)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	pid, _ := p2p.PeerIDFromPublicKey(other.Public().(ed25519.PublicKey))
	gone := "/ip4/127.0.0.1/tcp/1/p2p/" + pid.String()
	if r := exchangeOn(t, sess, &p2p.Route{SessionID: "r", On: true, Next: gone, NextTask: 2}); !isErr(r, p2p.CodeRelay, "route session r to task 2") {
		t.Fatalf("route to an unreachable node: %v", r)
	}
	// The session still runs the client's steps and answers them.
	x := exec.Tensor{DType: ir.F32, Shape: ir.Shape{1, m.Config.Dim}, F32: make([]float32, m.Config.Dim)}.Frame()
	step := &p2p.Step{SessionID: "r", Positions: []int32{0}, Tensors: []p2p.NamedTensor{{Name: c.tasks[1].Inputs[0], Frame: *x}}}
	if r, ok := exchangeOn(t, sess, step).(*p2p.StepResult); !ok || r.Index != 0 || len(r.Tensors) == 0 {
		t.Fatalf("step after a refused route: %v", r)
	}
	if r, ok := exchangeOn(t, sess, &p2p.Route{SessionID: "r"}).(*p2p.StepResult); !ok || r.Index != 1 || len(r.Tensors) != 0 {
		t.Fatalf("un-route after one step: %v, want an answer counting 1 step", r)
	}
	// Fetch returns recorded rows, and refuses names and rows not recorded.
	in := c.tasks[1].Inputs[0]
	r, ok := exchangeOn(t, sess, &p2p.Fetch{SessionID: "r", Name: in, Count: 1}).(*p2p.StepResult)
	if !ok || len(r.Tensors) != 1 || !slices.Equal(r.Tensors[0].Frame.Data, x.Data) || !slices.Equal(r.Tensors[0].Frame.Shape, x.Shape) {
		t.Fatalf("fetch of the recorded input: %v", r)
	}
	if r := exchangeOn(t, sess, &p2p.Fetch{SessionID: "r", Name: "nope", Count: 1}); !isErr(r, p2p.CodeBadInput, `records no tensor "nope"`) {
		t.Fatalf("fetch of a tensor not recorded: %v", r)
	}
	if r := exchangeOn(t, sess, &p2p.Fetch{SessionID: "r", Name: in, From: 1, Count: 1}); !isErr(r, p2p.CodeBadInput, "rows 1..2") {
		t.Fatalf("fetch beyond the record: %v", r)
	}
}

// TestRelayOutlastsReadTimeout: while a session relays, the streams
// between the client and the stages after the first carry nothing until
// it ends, and a relay stream nothing until the stage before has a step;
// they must not count as broken after the hosts' read timeout (1 s here,
// and the session takes steps 150 ms apart for 2.4 seconds; the timeout is
// no shorter so that opening the session under a loaded race-detector run
// stays within it).
func TestRelayOutlastsReadTimeout(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	c.readTimeout = time.Second
	res := c.hostPerTask(t)
	_, key, _ := ed25519.GenerateKey(nil)
	client, err := p2p.New(context.Background(), p2p.Config{Key: key, ReadTimeout: c.readTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := c.open(t, client, "slow", res, false)
	hist := []int32{1}
	for len(hist) < 17 {
		time.Sleep(150 * time.Millisecond) // a slow client: the stages' streams idle
		logits, err := sess.Forward(ctx, hist[len(hist)-1:], len(hist)-1)
		if err != nil {
			t.Fatalf("step %d: %v", len(hist)-1, err)
		}
		if !sess.Relaying() {
			t.Fatalf("relaying stopped at step %d", len(hist)-1)
		}
		hist = append(hist, int32(sample.Argmax(logits)))
	}
	sess.Close()
	for task, e := range c.sessionEnds(t, len(c.tasks))["slow"] {
		if want := e.Steps; e.Steps != 16 || (task > 0 && e.Relayed != want) {
			t.Errorf("task %d: %d steps, %d relayed in; want 16, all relayed but on the first stage", task, e.Steps, e.Relayed)
		}
	}
	if len(res.failed) != 0 {
		t.Errorf("failovers %v in a session without failures", res.failed)
	}
}

// TestRelayStepRefused: a step that a stage refuses (a position past the
// context) fails with ErrRemote while relaying, as without, and no stage
// is dropped and rebuilt for it: each task's session ends once, at Close,
// with the steps it ran.
func TestRelayStepRefused(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	res := c.hostPerTask(t)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := c.open(t, client, "refused", res, false)
	for pos := range 3 {
		if _, err := sess.Forward(ctx, []int32{1}, pos); err != nil {
			t.Fatal(err)
		}
	}
	_, err := sess.Forward(ctx, []int32{1}, m.Config.Context)
	if !errors.Is(err, pipeline.ErrRemote) || !strings.Contains(err.Error(), "task 0") {
		t.Fatalf("a step past the context: %v, want ErrRemote from task 0", err)
	}
	sess.Close()
	seen := map[uint32]int{}
	for range len(c.tasks) {
		select {
		case e := <-c.ends:
			seen[e.Key.Task]++
			if e.Steps != 3 {
				t.Errorf("task %d's session ended after %d steps, want 3", e.Key.Task, e.Steps)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("sessions ended: %v", seen)
		}
	}
	select {
	case e := <-c.ends:
		t.Errorf("task %d ended a second session (%d steps): a stage was rebuilt", e.Key.Task, e.Steps)
	case <-time.After(300 * time.Millisecond):
	}
	if len(seen) != len(c.tasks) || len(res.failed) != 0 {
		t.Errorf("sessions ended per task %v, failovers %v", seen, res.failed)
	}
}

// TestRelayCancelledStep cancels a relayed step midway (while the middle
// stage computes it) and then takes the step again, with another token:
// the session rebuilds its stages and answers for the new token, not with
// the cancelled step's late result.
func TestRelayCancelledStep(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	mid := len(c.tasks) / 2
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, cancelFirst := context.WithCancel(ctx)
	returned := make(chan struct{})
	var once sync.Once
	f := &node.Fault{AfterRun: func(task uint32, step uint64) {
		if step == 3 {
			once.Do(func() {
				cancelFirst()
				select { // hold the step until the client has given up on it
				case <-returned:
				case <-time.After(10 * time.Second):
				}
			})
		}
	}}
	res := &staticResolver{primary: map[int]string{}}
	for i := range c.tasks {
		if i == mid {
			res.primary[i] = c.serveFault(t, f, i).Addrs()[0]
		} else {
			res.primary[i] = c.serve(t, i).Addrs()[0]
		}
	}
	sess := c.open(t, newClient(t), "cancel", res, false)
	ls := localSession(t, m)
	check := func(pos int, tok int32, got []float32) {
		t.Helper()
		out, err := ls.Run(map[string]exec.Tensor{"tokens": exec.I32s(tok), "pos": exec.I32s(int32(pos))})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, out["logits"].F32) {
			t.Fatalf("step %d: logits over the pipeline differ from the local ones", pos)
		}
	}
	toks := []int32{1, 403, 407, 411, 300, 301, 302}
	for pos := range 3 {
		got, err := sess.Forward(first, toks[pos:pos+1], pos)
		if err != nil {
			t.Fatal(err)
		}
		check(pos, toks[pos], got)
	}
	if _, err := sess.Forward(first, []int32{99}, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled step: %v, want context.Canceled", err)
	}
	close(returned)
	for pos := 3; pos < len(toks); pos++ {
		got, err := sess.Forward(ctx, toks[pos:pos+1], pos)
		if err != nil {
			t.Fatalf("step %d after the cancelled one: %v", pos, err)
		}
		check(pos, toks[pos], got)
	}
	if len(res.failed) != 0 {
		t.Errorf("failovers %v: a cancelled step is no node's failure", res.failed)
	}
}

// TestRelayLocalLoopEnds routes two sessions on one node to each other:
// the step runs once in each and comes back with an index the first has
// passed, so the client gets an Error instead of a node stuck on its own
// lock.
func TestRelayLocalLoopEnds(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	h := c.serve(t, 0, 1)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.Connect(ctx, h.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	streams := make([]*p2p.Stream, 2)
	for k := range streams {
		s, err := client.OpenPipeline(ctx, h.ID())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Reset)
		s.SetTimeouts(10*time.Second, 10*time.Second) // a stuck node fails the test instead of hanging it
		streams[k] = s
		if r := exchangeOn(t, s, &p2p.OpenSession{SessionID: "loop", ModelID: c.model, TaskID: uint32(k)}); r.Type() != p2p.TypeStepResult {
			t.Fatalf("open task %d: %v", k, r)
		}
	}
	for k := 1; k >= 0; k-- {
		r := &p2p.Route{SessionID: "loop", On: true, Next: h.Addrs()[0], NextTask: uint32(1 - k), Prev: h.ID().String()}
		if a := exchangeOn(t, streams[k], r); a.Type() != p2p.TypeStepResult {
			t.Fatalf("route task %d to task %d: %v", k, 1-k, a)
		}
	}
	ids := exec.Tensor{DType: ir.I32, Shape: ir.Shape{1}, I32: []int32{1}}.Frame()
	step := &p2p.Step{SessionID: "loop", Positions: []int32{0}, Tensors: []p2p.NamedTensor{{Name: c.tasks[0].Inputs[0], Frame: *ids}}}
	if c.tasks[0].Inputs[0] != "tokens" {
		t.Fatalf("task 0 reads %v, want the tokens first", c.tasks[0].Inputs)
	}
	r := exchangeOn(t, streams[0], step)
	if e, ok := r.(*p2p.Error); !ok || !strings.Contains(e.Text, "step 0 out of order; expected 1") {
		t.Fatalf("a step around a loop of two sessions: %v, want task 0 refusing it the second time", r)
	}
	// Both sessions ran the step once and still answer.
	for k, s := range streams {
		if a, ok := exchangeOn(t, s, &p2p.Route{SessionID: "loop"}).(*p2p.StepResult); !ok || a.Index != 1 {
			t.Fatalf("un-route task %d: %v, want an answer counting 1 step", k, a)
		}
	}
}

// TestRelaySessionsAreTheClients: a session is its client's. Another
// client that opens the same session id on the first stage's node and
// routes it to the second stage's node, which the victim routed to take
// steps from that node, reaches nothing of the victim's: the relay is
// refused and the victim's second stage runs no step.
func TestRelaySessionsAreTheClients(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	x, y := c.serve(t, 0), c.serve(t, 1)
	victim, attacker := newClient(t), newClient(t)
	openOn := func(cl, h *p2p.Host, task uint32) *p2p.Stream { return c.openSessionAs(t, cl, h, task) }
	vy := openOn(victim, y, 1)
	if r := exchangeOn(t, vy, &p2p.Route{SessionID: "exec-1", On: true, Prev: x.ID().String()}); r.Type() != p2p.TypeStepResult {
		t.Fatalf("victim's route on y: %v", r)
	}
	ax := openOn(attacker, x, 0)
	r := exchangeOn(t, ax, &p2p.Route{SessionID: "exec-1", On: true, Next: y.Addrs()[0], NextTask: 1})
	if e, ok := r.(*p2p.Error); !ok || e.Code != p2p.CodeRelay || !strings.Contains(e.Text, "no session") {
		t.Fatalf("attacker's route from x into the victim's session on y: %v, want CodeRelay", r)
	}
	ids := exec.Tensor{DType: ir.I32, Shape: ir.Shape{1}, I32: []int32{1}}.Frame()
	step := &p2p.Step{SessionID: "exec-1", Positions: []int32{0}, Tensors: []p2p.NamedTensor{{Name: "tokens", Frame: *ids}}}
	if a, ok := exchangeOn(t, ax, step).(*p2p.StepResult); !ok || len(a.Tensors) == 0 {
		t.Fatalf("attacker's step, answered to it: %v", a)
	}
	if a, ok := exchangeOn(t, vy, &p2p.Route{SessionID: "exec-1"}).(*p2p.StepResult); !ok || a.Index != 0 || len(a.Tensors) != 0 {
		t.Fatalf("victim's session on y after the attack: %v, want an un-route answer counting no step", a)
	}
}

// exchangeOn sends m on s and returns the answer.
func exchangeOn(t *testing.T, s *p2p.Stream, m p2p.Message) p2p.Message {
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
