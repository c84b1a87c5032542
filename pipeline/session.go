package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/p2p"
)

// ErrRemote wraps an Error message a node answered with.
var ErrRemote = errors.New("node refused the step")

// Session runs one conversation through the model's nodes. It is used by one
// goroutine at a time (its Forward calls run tasks of a level in parallel).
type Session struct {
	cfg    Config
	levels [][]int
	links  []*link
	logits []float32
	// inputs holds the model inputs of every step run so far, row by row;
	// a stage rebuilt on a replacement node gets them, or the rows the
	// tasks before it recorded (p2p.Fetch), as one batched step.
	inputs   *history
	producer map[string]int // the task that outputs each name
	// reducible: no task reads Logits, so a node may answer with their
	// argmax instead (ForwardArgmax, and replays, whose results are unused).
	reducible bool
	// relay: the tasks form a chain whose stages may pass activations to
	// each other directly (relay.go); it stays on until relaying fails once.
	relay  bool
	routed bool          // the nodes are routed and every link has a reader
	fault  chan struct{} // a reader saw an Error or a broken stream
	// Timing, when set, receives each task's step start and end (for tests
	// that show parallel branches overlap).
	Timing func(task int, start, end int64)
}

// link is the connection to the node serving one task.
type link struct {
	task      Task
	addr      string
	peer      p2p.PeerID
	stream    *p2p.Stream
	in        chan received // the reader's messages, while one runs (relay.go)
	done      chan struct{} // closed to stop the reader
	fetchMu   sync.Mutex    // serialises Fetches (rebuilds in parallel may read one producer)
	steps     uint64        // steps sent on the current stream
	failovers int
}

// Open prepares a session; streams open lazily on the first Forward.
func Open(cfg Config) (*Session, error) {
	if cfg.Host == nil || cfg.Resolver == nil || cfg.SessionID == "" || len(cfg.Tasks) == 0 {
		return nil, errors.New("pipeline: Host, Resolver, SessionID and Tasks are required")
	}
	if cfg.MaxFailovers == 0 {
		cfg.MaxFailovers = 3
	}
	lv, err := levels(cfg.Tasks)
	if err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, levels: lv, reducible: true, fault: make(chan struct{}, 1), inputs: newHistory(), producer: map[string]int{}}
	for _, t := range cfg.Tasks {
		if slices.Contains(t.Inputs, Logits) {
			s.reducible = false
		}
	}
	for i, t := range cfg.Tasks {
		s.links = append(s.links, &link{task: t})
		for _, o := range t.Outputs {
			s.producer[o] = i
		}
	}
	s.relay = !cfg.NoRelay && isChain(cfg.Tasks, lv)
	return s, nil
}

// Forward runs tokens at positions pos.. and returns the last row's logits.
func (s *Session) Forward(ctx context.Context, tokens []int32, pos int) ([]float32, error) {
	l, err := s.forward(ctx, tokens, pos, nil)
	if err != nil {
		return nil, err
	}
	return s.lastRow(l)
}

// ForwardArgmax is Forward for greedy decoding: it returns the index of the
// largest of the last row's logits, the first on ties (sample.Argmax). The
// node that computes the logits picks it, so a token id crosses the
// network instead of a row as wide as the vocabulary; the node still
// records the logits in full.
func (s *Session) ForwardArgmax(ctx context.Context, tokens []int32, pos int) (int, error) {
	if !s.reducible {
		return 0, fmt.Errorf("pipeline: a task reads %q, so the logits cannot be reduced to their argmax", Logits)
	}
	l, err := s.forward(ctx, tokens, pos, []string{Logits})
	if err != nil {
		return 0, err
	}
	n := len(tokens)
	if l.DType != ir.I32 || len(l.Shape) != 1 || l.Shape[0] != n || l.Check() != nil {
		return 0, fmt.Errorf("pipeline: argmax of the logits is %v %v, want i32 [%d]", l.DType, l.Shape, n)
	}
	v := int32(binary.LittleEndian.Uint32(l.Data[4*(n-1):]))
	if v < 0 {
		return 0, fmt.Errorf("pipeline: argmax of the logits is %d", v)
	}
	return int(v), nil
}

// forward runs tokens at positions pos.. and returns the Logits tensor
// (reduced to argmax row indices when argmax names it).
func (s *Session) forward(ctx context.Context, tokens []int32, pos int, argmax []string) (*ir.Frame, error) {
	n := len(tokens)
	if n == 0 {
		return nil, errors.New("pipeline: no tokens")
	}
	positions := make([]int32, n)
	tok := make([]byte, 4*n)
	for i := range positions {
		positions[i] = int32(pos + i)
		binary.LittleEndian.PutUint32(tok[4*i:], uint32(tokens[i]))
	}
	values, err := s.step(ctx, positions, []p2p.NamedTensor{{Name: Tokens, Frame: ir.Frame{DType: ir.I32, Shape: ir.Shape{n}, Data: tok}}}, argmax)
	if err != nil {
		return nil, err
	}
	l, ok := values[Logits]
	if !ok {
		return nil, fmt.Errorf("pipeline: no task produced %q", Logits)
	}
	return &l.Frame, nil
}

// Run is one step of any graph: the model inputs (rows first) for the given
// positions go to the tasks that read them, tasks of one level run in
// parallel, and every value produced is returned by name.
func (s *Session) Run(ctx context.Context, positions []int32, inputs []p2p.NamedTensor) (map[string]p2p.NamedTensor, error) {
	return s.step(ctx, positions, inputs, nil)
}

// step is Run; the tasks that produce an output named in argmax are asked
// for its argmax rows instead (p2p.Step.Argmax).
func (s *Session) step(ctx context.Context, positions []int32, inputs []p2p.NamedTensor, argmax []string) (map[string]p2p.NamedTensor, error) {
	values := map[string]p2p.NamedTensor{}
	for _, in := range inputs {
		values[in.Name] = in
	}
	var done []bool // tasks that already ran this step by relaying
	if s.relay {
		var err error
		done, err = s.relayStep(ctx, values, positions, argmax)
		if err != nil && !errors.Is(err, errRelayLost) {
			return nil, s.abandon(ctx, err)
		}
	}
	if !all(done) {
		if err := s.levelsStep(ctx, values, positions, argmax, done); err != nil {
			return nil, s.abandon(ctx, err)
		}
	}
	s.inputs.add(positions, inputs)
	return values, nil
}

// abandon returns err, the failure of a step; when ctx ended the step
// midway, where each stage got to is unknown, so every stream is dropped
// and a later step rebuilds the stages from the history (a dropped stream
// is not a failed node).
func (s *Session) abandon(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		s.routed = false
		for _, l := range s.links {
			l.drop()
		}
	}
	return err
}

// levelsStep runs the step's tasks through this side, level by level, the
// tasks of a level in parallel, except those marked in done (when
// relaying failed mid-step), whose outputs it fetches from their records
// where a task still to run reads them.
func (s *Session) levelsStep(ctx context.Context, values map[string]p2p.NamedTensor, positions []int32, argmax []string, done []bool) error {
	rows := len(s.inputs.pos)
	for _, level := range s.levels {
		var todo []int
		for _, ti := range level {
			if done == nil || !done[ti] {
				todo = append(todo, ti)
			}
		}
		for _, ti := range level {
			if done == nil || !done[ti] {
				continue
			}
			for _, name := range s.links[ti].task.Outputs {
				if _, ok := values[name]; ok || !s.readBy(name, done) {
					continue
				}
				t, err := s.fetchRows(ctx, s.links[ti], name, rows, len(positions))
				if err != nil {
					return err
				}
				values[name] = t
			}
		}
		outs := make([][]p2p.NamedTensor, len(todo))
		errs := make([]error, len(todo))
		if len(todo) == 1 {
			// No goroutine for a lone task: the hand-off would add a
			// wake-up to every step of a plain pipeline.
			outs[0], errs[0] = s.run(ctx, s.links[todo[0]], positions, values, argmax)
		} else {
			var wg sync.WaitGroup
			for j, ti := range todo {
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[j], errs[j] = s.run(ctx, s.links[ti], positions, values, argmax)
				}()
			}
			wg.Wait()
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for _, o := range outs {
			for _, t := range o {
				values[t.Name] = t
			}
		}
	}
	return nil
}

// all reports whether every task is marked (false for none).
func all(done []bool) bool {
	return done != nil && !slices.Contains(done, false)
}

// readBy reports whether a task not marked in done reads name.
func (s *Session) readBy(name string, done []bool) bool {
	for i, l := range s.links {
		if !done[i] && slices.Contains(l.task.Inputs, name) {
			return true
		}
	}
	return false
}

// fetchRows asks l's node for rows [from, from+n) of a tensor its session
// recorded. A failure is errFetch: not the fault of the task being rebuilt.
func (s *Session) fetchRows(ctx context.Context, l *link, name string, from, n int) (p2p.NamedTensor, error) {
	fail := func(err error) (p2p.NamedTensor, error) {
		return p2p.NamedTensor{}, fmt.Errorf("%w: rows %d..%d of %q from task %d: %v", errFetch, from, from+n, name, l.task.ID, err)
	}
	l.fetchMu.Lock()
	defer l.fetchMu.Unlock()
	if l.stream == nil {
		return fail(errors.New("no stream to its node"))
	}
	st := l.stream
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	if err := l.stream.Send(&p2p.Fetch{SessionID: s.cfg.SessionID, Name: name, From: uint32(from), Count: uint32(n)}); err != nil {
		return fail(err)
	}
	m, err := l.recv(ctx, nil)
	if err != nil {
		return fail(err)
	}
	switch m := m.(type) {
	case *p2p.StepResult:
		if len(m.Tensors) == 1 && m.Tensors[0].Name == name && len(m.Tensors[0].Frame.Shape) > 0 && m.Tensors[0].Frame.Shape[0] == n {
			return m.Tensors[0], nil
		}
		return fail(fmt.Errorf("%w: the answer holds %d tensors", ErrRemote, len(m.Tensors)))
	case *p2p.Error:
		return fail(m)
	}
	return fail(fmt.Errorf("%w: unexpected %v", ErrRemote, m.Type()))
}

func (s *Session) lastRow(f *ir.Frame) ([]float32, error) {
	if f.DType != ir.F32 || len(f.Shape) != 2 || f.Check() != nil {
		return nil, fmt.Errorf("pipeline: logits are %v %v, want f32 [rows vocab]", f.DType, f.Shape)
	}
	w := f.Shape[1]
	row := f.Data[(f.Shape[0]-1)*w*4:]
	if cap(s.logits) < w {
		s.logits = make([]float32, w)
	}
	s.logits = s.logits[:w]
	for i := range s.logits {
		s.logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
	}
	return s.logits, nil
}

// run sends one step to l's node, failing over to a replacement node when
// the stream breaks.
func (s *Session) run(ctx context.Context, l *link, positions []int32, values map[string]p2p.NamedTensor, argmax []string) ([]p2p.NamedTensor, error) {
	var reduce []string
	for _, name := range argmax {
		if slices.Contains(l.task.Outputs, name) {
			reduce = append(reduce, name)
		}
	}
	ins, err := s.inputsOf(l, values)
	if err != nil {
		return nil, err
	}
	for {
		start := nowNano()
		res, err := s.try(ctx, l, &p2p.Step{SessionID: s.cfg.SessionID, Positions: positions, Tensors: ins, Argmax: reduce})
		if err == nil {
			if s.Timing != nil {
				s.Timing(l.task.ID, start, nowNano())
			}
			return res.Tensors, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrRemote) || errors.Is(err, errFetch) || l.failovers >= s.cfg.MaxFailovers {
			return nil, fmt.Errorf("pipeline: task %d at %s: %w", l.task.ID, l.addr, err)
		}
		l.failovers++
		l.drop()
		if ferr := s.cfg.Resolver.Failed(ctx, l.task.ID, l.addr, err); ferr != nil {
			return nil, fmt.Errorf("pipeline: task %d: node failed (%v) and no replacement: %w", l.task.ID, err, ferr)
		}
	}
}

// inputsOf picks l's task inputs (but Pos) out of values.
func (s *Session) inputsOf(l *link, values map[string]p2p.NamedTensor) ([]p2p.NamedTensor, error) {
	var ins []p2p.NamedTensor
	for _, name := range l.task.Inputs {
		if name == Pos {
			continue
		}
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("pipeline: task %d input %q was not produced", l.task.ID, name)
		}
		ins = append(ins, v)
	}
	return ins, nil
}

// try sends st on l's stream (opening it and replaying history first when
// needed) and waits for the result.
func (s *Session) try(ctx context.Context, l *link, st *p2p.Step) (*p2p.StepResult, error) {
	if l.stream == nil {
		if err := s.connect(ctx, l); err != nil {
			return nil, err
		}
	}
	stream := l.stream
	stop := context.AfterFunc(ctx, func() { stream.Reset() })
	defer stop()
	st.Index = l.steps
	return l.exchange(st)
}

func (l *link) exchange(st *p2p.Step) (*p2p.StepResult, error) {
	if err := l.stream.Send(st); err != nil {
		return nil, err
	}
	m, err := l.recv(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *p2p.StepResult:
		l.steps++
		return m, nil
	case *p2p.Error:
		if m.Code == p2p.CodeShuttingDown || m.Code == p2p.CodeBusy {
			return nil, m
		}
		return nil, fmt.Errorf("%w: %v", ErrRemote, m)
	}
	return nil, fmt.Errorf("%w: unexpected %v", ErrRemote, m.Type())
}

// connect opens a stream to the task's current node, opens the session and
// replays its inputs so far as one batched step: model inputs from this
// side's history, the others from the records of the tasks that produced
// them.
func (s *Session) connect(ctx context.Context, l *link) error {
	addr, err := s.cfg.Resolver.Peer(ctx, l.task.ID)
	if err != nil {
		return err
	}
	l.addr = addr
	pid, err := s.cfg.Host.Connect(ctx, addr)
	if err != nil {
		return err
	}
	l.peer = pid
	st, err := s.cfg.Host.OpenPipeline(ctx, pid)
	if err != nil {
		return err
	}
	l.stream, l.steps = st, 0
	if err := st.Send(&p2p.OpenSession{SessionID: s.cfg.SessionID, ModelID: s.cfg.Model, TaskID: uint32(l.task.ID)}); err != nil {
		return err
	}
	m, err := st.Recv()
	if err != nil {
		return err
	}
	if e, ok := m.(*p2p.Error); ok {
		return fmt.Errorf("open session on %s: %w", addr, e)
	}
	rows := len(s.inputs.pos)
	if rows == 0 {
		return nil
	}
	replay := &p2p.Step{SessionID: s.cfg.SessionID, Positions: slices.Clone(s.inputs.pos)}
	for _, name := range l.task.Inputs {
		if name == Pos {
			continue
		}
		var t p2p.NamedTensor
		if p, ok := s.producer[name]; ok {
			if t, err = s.fetchRows(ctx, s.links[p], name, 0, rows); err != nil {
				return err
			}
		} else if t, ok = s.inputs.tensor(name); !ok {
			return fmt.Errorf("pipeline: task %d input %q is neither a model input nor produced", l.task.ID, name)
		}
		replay.Tensors = append(replay.Tensors, t)
	}
	if s.reducible && slices.Contains(l.task.Outputs, Logits) {
		replay.Argmax = []string{Logits} // the replay's logits are not used: do not send a row per position
	}
	_, err = l.exchange(replay) // rebuild the KV cache
	return err
}

func (l *link) drop() {
	l.stopReader()
	if l.stream != nil {
		l.stream.Reset()
		l.stream = nil
	}
}

// Close ends the session on every node.
func (s *Session) Close() error {
	for _, l := range s.links {
		if l.stream != nil {
			l.stream.Send(&p2p.Close{SessionID: s.cfg.SessionID})
			l.stream.Close()
			l.stopReader()
			l.stream = nil
		}
	}
	return nil
}
