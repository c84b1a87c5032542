package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
	"github.com/splitup/splitup/pipeline"
	"github.com/splitup/splitup/sample"
)

const storiesPath = "../../shared/models/stories260K.bin"

// cluster is a set of in-process worker hosts serving one planned model.
type cluster struct {
	plan   *partition.Plan
	shards [][]byte
	tasks  []pipeline.Task
	model  [32]byte
	hosts  []*p2p.Host
	ends   chan node.SessionEnd
	// readTimeout is the worker hosts' p2p.Config.ReadTimeout (0: the
	// default).
	readTimeout time.Duration
}

func newCluster(t *testing.T, m *models.Model) *cluster {
	t.Helper()
	p, err := partition.Partition(m.Graph, partition.Config{Budget: 600 << 10, Cost: partition.CostModel{Chunk: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) < 3 || len(p.Shards) != 0 {
		t.Fatalf("plan has %d tasks and %d split weights; want ≥ 3 and none", len(p.Tasks), len(p.Shards))
	}
	c := &cluster{plan: p, ends: make(chan node.SessionEnd, 64)}
	c.model[0] = 7
	for _, tk := range p.Tasks {
		b, err := shard.Encode(tk.Graph, m)
		if err != nil {
			t.Fatal(err)
		}
		c.shards = append(c.shards, b)
		pt := pipeline.Task{ID: tk.ID}
		for _, in := range tk.Inputs {
			pt.Inputs = append(pt.Inputs, in.Name)
		}
		for _, o := range tk.Outputs {
			pt.Outputs = append(pt.Outputs, o.Name)
		}
		c.tasks = append(c.tasks, pt)
	}
	return c
}

// serve starts a host whose worker loads the given tasks.
func (c *cluster) serve(t *testing.T, tasks ...int) *p2p.Host {
	t.Helper()
	return c.serveFault(t, nil, tasks...)
}

// serveFault is serve with a worker that injects f.
func (c *cluster) serveFault(t *testing.T, f *node.Fault, tasks ...int) *p2p.Host {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	h, err := p2p.New(context.Background(), p2p.Config{Key: key, ReadTimeout: c.readTimeout})
	if err != nil {
		t.Fatal(err)
	}
	w := node.NewWorker(node.WorkerConfig{Fault: f, OnSessionEnd: func(e node.SessionEnd) { c.ends <- e }})
	for _, i := range tasks {
		if err := w.Load(node.TaskKey{Model: c.model, Task: uint32(i)}, c.shards[i]); err != nil {
			t.Fatal(err)
		}
	}
	h.SetPipelineHandler(w.Serve)
	t.Cleanup(func() { h.Close(); w.Close() })
	c.hosts = append(c.hosts, h)
	return h
}

// hostPerTask starts a host for each task and returns a resolver that
// routes every task to its host.
func (c *cluster) hostPerTask(t *testing.T) *staticResolver {
	t.Helper()
	res := &staticResolver{primary: map[int]string{}}
	for i := range c.tasks {
		res.primary[i] = c.serve(t, i).Addrs()[0]
	}
	return res
}

// serveAll starts a host whose worker loads every task.
func (c *cluster) serveAll(t *testing.T) *p2p.Host {
	all := make([]int, len(c.tasks))
	for i := range all {
		all[i] = i
	}
	return c.serve(t, all...)
}

// sessionEnds collects the commitments of n task sessions by session id
// and task.
func (c *cluster) sessionEnds(t *testing.T, n int) map[string]map[uint32]node.SessionEnd {
	t.Helper()
	ends := map[string]map[uint32]node.SessionEnd{}
	for range n {
		select {
		case e := <-c.ends:
			if ends[e.SessionID] == nil {
				ends[e.SessionID] = map[uint32]node.SessionEnd{}
			}
			ends[e.SessionID][e.Key.Task] = e
		case <-time.After(10 * time.Second):
			t.Fatal("sessions did not all report their commitments")
		}
	}
	return ends
}

// open opens a pipeline session of the cluster's model, closed at the end
// of t.
func (c *cluster) open(t *testing.T, client *p2p.Host, id string, res pipeline.Resolver, noRelay bool) *pipeline.Session {
	t.Helper()
	sess, err := pipeline.Open(pipeline.Config{Host: client, Model: c.model, SessionID: id, Tasks: c.tasks, Resolver: res, NoRelay: noRelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// newClient returns a host for the pipeline client, closed at the end of t.
func newClient(t *testing.T) *p2p.Host {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	client, err := p2p.New(context.Background(), p2p.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// localSession runs the whole model in this process, for reference.
func localSession(t *testing.T, m *models.Model) *exec.Session {
	t.Helper()
	local, err := exec.New(m.Graph, m, exec.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	return local.NewSession()
}

// staticResolver routes tasks to fixed hosts and fails over to a backup.
type staticResolver struct {
	mu      sync.Mutex
	primary map[int]string
	backup  string
	failed  []int
}

func (r *staticResolver) Peer(ctx context.Context, task int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.primary[task], nil
}

func (r *staticResolver) Failed(ctx context.Context, task int, addr string, cause error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.primary[task] == r.backup {
		return errors.New("backup failed too")
	}
	r.failed = append(r.failed, task)
	r.primary[task] = r.backup
	return nil
}

func loadStories(t *testing.T) *models.Model {
	if _, err := os.Stat(storiesPath); err != nil {
		t.Skipf("reference model not found at %s: %v", storiesPath, err)
	}
	m, err := models.Load(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPipelineFailover runs stories260K split over three worker hosts and
// compares every step's logits with the whole model run locally; halfway,
// the host of the middle tasks closes and a backup takes over by replaying
// the session's inputs.
func TestPipelineFailover(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	n := len(c.tasks)
	third := (n + 2) / 3
	groups := [][]int{}
	for s := 0; s < n; s += third {
		g := []int{}
		for i := s; i < min(s+third, n); i++ {
			g = append(g, i)
		}
		groups = append(groups, g)
	}
	res := &staticResolver{primary: map[int]string{}}
	for _, g := range groups {
		h := c.serve(t, g...)
		for _, i := range g {
			res.primary[i] = h.Addrs()[0]
		}
	}
	res.backup = c.serveAll(t).Addrs()[0]
	middle := c.hosts[1]

	client := newClient(t)
	sess, err := pipeline.Open(pipeline.Config{Host: client, Model: c.model, SessionID: "s1", Tasks: c.tasks, Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	ls := localSession(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	toks := []int32{1}
	for pos := 0; pos < 120; pos++ {
		if pos == 60 {
			middle.Close() // the node of the middle tasks dies mid-answer
		}
		got, err := sess.Forward(ctx, toks, pos)
		if err != nil {
			t.Fatalf("step %d: %v", pos, err)
		}
		if want := pos < 60; sess.Relaying() != want {
			t.Fatalf("step %d: relaying %v, want %v (until the failover)", pos, sess.Relaying(), want)
		}
		out, err := ls.Run(map[string]exec.Tensor{"tokens": exec.I32s(toks...), "pos": exec.I32s(int32(pos))})
		if err != nil {
			t.Fatal(err)
		}
		want := out["logits"].F32
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("step %d: logit %d is %v over the pipeline, %v locally", pos, i, got[i], want[i])
			}
		}
		toks = []int32{int32(sample.Argmax(got))}
	}
	if len(res.failed) == 0 {
		t.Fatal("no failover happened")
	}
	sess.Close()
	checkCustody(t, c, n, n+len(res.failed))
}

// checkCustody collects the sessions' commitments and checks that every cut
// tensor has the same root at its producer and its consumer.
// reports is the number of sessions that end: one per task plus one per
// failed-over task (the dead node's partial session).
func checkCustody(t *testing.T, c *cluster, n, reports int) {
	t.Helper()
	roots := map[int]node.SessionEnd{}
	timeout := time.After(10 * time.Second)
	for got := 0; got < reports; got++ {
		select {
		case e := <-c.ends:
			if old, ok := roots[int(e.Key.Task)]; !ok || e.Steps >= old.Steps || rows(e) > rows(old) {
				roots[int(e.Key.Task)] = e // the replacement's full record supersedes the dead node's
			}
		case <-timeout:
			t.Fatalf("only %d of %d tasks reported their commitments", len(roots), n)
		}
	}
	produced := map[string][32]byte{}
	for _, e := range roots {
		for _, o := range e.Outputs {
			produced[o.Name] = o.Root
		}
	}
	for task, e := range roots {
		for _, in := range e.Inputs {
			if r, ok := produced[in.Name]; ok && r != in.Root {
				t.Errorf("task %d input %q root differs from its producer's output root", task, in.Name)
			}
		}
	}
}

// rows is the number of positions a session's first input covered.
func rows(e node.SessionEnd) int { return len(e.Record.Rows(e.Inputs[0].Name)) }

// TestPipelineArgmax checks greedy decoding where the last node sends only
// the argmax of the logits: the tokens are those of greedy decoding on the
// full logits, every node records the same tensors as in a session that
// moves the logits, and a node asked for the argmax of something that is
// not an f32 output of its task refuses the step.
func TestPipelineArgmax(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	n := len(c.tasks)
	h := c.serveAll(t)
	res := &staticResolver{primary: map[int]string{}}
	for i := range c.tasks {
		res.primary[i] = h.Addrs()[0]
	}
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	run := func(id string, greedy bool) []int32 {
		sess, err := pipeline.Open(pipeline.Config{Host: client, Model: c.model, SessionID: id, Tasks: c.tasks, Resolver: res})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		hist := []int32{1, 403, 407} // a batched prefill, then single steps
		done := 0
		for len(hist) < 60 {
			var next int
			if greedy {
				next, err = sess.ForwardArgmax(ctx, hist[done:], done)
			} else {
				var logits []float32
				if logits, err = sess.Forward(ctx, hist[done:], done); err == nil {
					next = sample.Argmax(logits)
				}
			}
			if err != nil {
				t.Fatalf("%s at %d: %v", id, done, err)
			}
			done = len(hist)
			hist = append(hist, int32(next))
		}
		return hist
	}
	want, got := run("full", false), run("argmax", true)
	if !slices.Equal(got, want) {
		t.Fatalf("argmax tokens %v\nlogits tokens %v", got, want)
	}
	ends := c.sessionEnds(t, 2*n)
	for task, f := range ends["full"] {
		a := ends["argmax"][task]
		if !slices.Equal(a.Outputs, f.Outputs) || !slices.Equal(a.Inputs, f.Inputs) {
			t.Errorf("task %d recorded different tensors when sending the argmax", task)
		}
	}

	s, err := client.OpenPipeline(ctx, h.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	if err := s.Send(&p2p.OpenSession{SessionID: "bad", ModelID: c.model, TaskID: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	tok := exec.I32s(1).Frame()
	step := &p2p.Step{SessionID: "bad", Positions: []int32{0}, Tensors: []p2p.NamedTensor{{Name: c.tasks[0].Inputs[0], Frame: *tok}}, Argmax: []string{"logits"}}
	if err := s.Send(step); err != nil {
		t.Fatal(err)
	}
	reply, err := s.Recv()
	if e, ok := reply.(*p2p.Error); err != nil || !ok || e.Code != p2p.CodeBadInput || !strings.Contains(e.Text, `argmax of "logits"`) {
		t.Fatalf("argmax of a tensor task 0 does not output: reply %v, %v", reply, err)
	}
}

// TestPipelineArgmaxFailover loses the node of every task, the last one
// included, halfway through a greedy session: the replacements rebuild
// their caches from replays (the last task's answered with argmax rows) and
// the tokens are those of greedy decoding in one local process.
func TestPipelineArgmaxFailover(t *testing.T) {
	m := loadStories(t)
	c := newCluster(t, m)
	primary := c.serveAll(t)
	res := &staticResolver{primary: map[int]string{}, backup: c.serveAll(t).Addrs()[0]}
	for i := range c.tasks {
		res.primary[i] = primary.Addrs()[0]
	}
	sess := c.open(t, newClient(t), "s", res, false)
	ls := localSession(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok := int32(1)
	for pos := range 60 {
		if pos == 30 {
			primary.Close()
		}
		got, err := sess.ForwardArgmax(ctx, []int32{tok}, pos)
		if err != nil {
			t.Fatalf("step %d: %v", pos, err)
		}
		out, err := ls.Run(map[string]exec.Tensor{"tokens": exec.I32s(tok), "pos": exec.I32s(int32(pos))})
		if err != nil {
			t.Fatal(err)
		}
		if want := sample.Argmax(out["logits"].F32); got != want {
			t.Fatalf("step %d: token %d over the pipeline, %d locally", pos, got, want)
		}
		tok = int32(got)
	}
	if len(res.failed) != len(c.tasks) {
		t.Fatalf("%d of %d tasks failed over", len(res.failed), len(c.tasks))
	}
}
