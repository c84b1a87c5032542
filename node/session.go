package node

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/sample"
)

// PosInput is the graph input fed from Step.Positions.
const PosInput = "pos"

// session is one pipeline session of one task. The client's stream serves
// it; when the client routes it (relay.go), a relay stream from the stage
// before runs steps on it too, so mu serialises steps, routing and what
// either sends to the client.
type session struct {
	mu     sync.Mutex
	client *p2p.Stream // the stream that opened the session
	route  *p2p.Route  // nil: steps come from the client only and go back to it
	next   *p2p.Stream // relay stream to the next stage (routed, not last)
	local  *session    // or the next stage's session on this same worker
	closed bool
	w      *Worker

	id      string
	key     TaskKey
	t       *loadedTask
	es      *exec.Session
	rec     *Record
	steps   int
	rows    int // positions consumed so far
	fault   *Fault
	busy    time.Duration // compute time of the steps
	relayed int           // steps that came from the stage before
	row     []float32     // scratch for argmax
}

// step runs one Step: inputs by name (positions from the message), outputs
// back as frames; everything is recorded row by row. It also returns the
// full outputs, before the argmax of those m.Argmax names; routed, names
// the task does not output are left to a later stage.
func (s *session) step(m *p2p.Step, routed bool) (*p2p.StepResult, []p2p.NamedTensor, *p2p.Error) {
	if m.SessionID != s.id {
		return nil, nil, errorf(p2p.CodeUnknownSession, "session %q is not open on this stream", m.SessionID)
	}
	if m.Index != uint64(s.steps) {
		return nil, nil, errorf(p2p.CodeBadInput, "step %d out of order; expected %d", m.Index, s.steps)
	}
	n := len(m.Positions)
	if n == 0 {
		return nil, nil, errorf(p2p.CodeBadInput, "a step needs at least one position")
	}
	inputs, perr := s.inputs(m, n)
	if perr != nil {
		return nil, nil, perr
	}
	s.t.mu.Lock()
	start := time.Now()
	outs, err := s.es.Run(inputs)
	s.busy += time.Since(start)
	s.t.mu.Unlock()
	s.fault.afterRun(s.key.Task, m.Index)
	if err != nil {
		return nil, nil, errorf(p2p.CodeBadInput, "run task %d: %v", s.key.Task, err)
	}
	res := &p2p.StepResult{SessionID: s.id, Index: m.Index}
	for _, name := range s.t.out {
		f := outs[name].Frame()
		s.fault.perturb(f)
		res.Tensors = append(res.Tensors, p2p.NamedTensor{Name: name, Frame: *f})
	}
	for _, name := range s.t.in {
		s.rec.add(name, inputs[name].Frame())
	}
	for i := range res.Tensors {
		s.rec.add(res.Tensors[i].Name, &res.Tensors[i].Frame)
	}
	full := slices.Clone(res.Tensors)
	names := m.Argmax
	if routed {
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !slices.Contains(s.t.out, n) })
	}
	if err := s.argmax(res, names); err != nil {
		return nil, nil, err
	}
	s.steps++
	s.rows += n
	return res, full, nil
}

// argmax replaces the outputs named in names (already recorded in full)
// by the index of each row's largest value, as greedy sampling picks it.
func (s *session) argmax(res *p2p.StepResult, names []string) *p2p.Error {
	for _, name := range names {
		i := slices.IndexFunc(res.Tensors, func(t p2p.NamedTensor) bool { return t.Name == name })
		if i < 0 {
			return errorf(p2p.CodeBadInput, "argmax of %q asked; task %d outputs %v", name, s.key.Task, s.t.out)
		}
		f := &res.Tensors[i].Frame
		if f.DType != ir.F32 || len(f.Shape) != 2 || f.Shape[1] == 0 {
			return errorf(p2p.CodeBadInput, "argmax of %q asked; it is %v %v, not f32 [rows width]", name, f.DType, f.Shape)
		}
		rows, w := f.Shape[0], f.Shape[1]
		if cap(s.row) < w {
			s.row = make([]float32, w)
		}
		row := s.row[:w]
		idx := make([]byte, 4*rows)
		for r := range rows {
			data := f.Data[4*r*w:]
			for j := range row {
				row[j] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*j:]))
			}
			binary.LittleEndian.PutUint32(idx[4*r:], uint32(sample.Argmax(row)))
		}
		res.Tensors[i].Frame = ir.Frame{DType: ir.I32, Shape: ir.Shape{rows}, Data: idx}
	}
	return nil
}

func (s *session) inputs(m *p2p.Step, n int) (map[string]exec.Tensor, *p2p.Error) {
	in := make(map[string]exec.Tensor, len(s.t.in))
	for _, name := range s.t.in {
		if name == PosInput {
			in[name] = exec.I32s(m.Positions...)
			continue
		}
		f := m.Tensor(name)
		if f == nil {
			return nil, errorf(p2p.CodeBadInput, "input %q is missing", name)
		}
		t, err := exec.FromFrame(f)
		if err != nil {
			return nil, errorf(p2p.CodeBadInput, "input %q: %v", name, err)
		}
		if t.Rows() != n {
			return nil, errorf(p2p.CodeBadInput, "input %q has %d rows, the step has %d positions", name, t.Rows(), n)
		}
		in[name] = t
	}
	if len(m.Tensors) > len(s.t.in) {
		return nil, errorf(p2p.CodeBadInput, "%d tensors sent, the task takes %d inputs", len(m.Tensors), len(s.t.in))
	}
	return in, nil
}

// Record holds a session's tensors row by row (one leaf per token position),
// so a batched prefill and token-by-token decoding record the same leaves.
type Record struct {
	names []string
	rows  map[string][]*ir.Frame // per tensor: one frame of one row per position
}

func newRecord(in, out []string) *Record {
	r := &Record{rows: map[string][]*ir.Frame{}}
	r.names = append(append(r.names, in...), out...)
	return r
}

// add splits frame f (rows first) into one-row frames and appends them.
func (r *Record) add(name string, f *ir.Frame) {
	rows := 1
	if len(f.Shape) > 0 {
		rows = f.Shape[0]
	}
	if rows == 0 {
		return
	}
	w := len(f.Data) / rows
	for i := 0; i < rows; i++ {
		shape := append(ir.Shape{1}, f.Shape[1:]...)
		r.rows[name] = append(r.rows[name], &ir.Frame{DType: f.DType, Shape: shape, Data: f.Data[i*w : (i+1)*w]})
	}
}

// Rows returns the recorded one-row frames of a tensor, in position order.
func (r *Record) Rows(name string) []*ir.Frame { return r.rows[name] }

// Names lists the recorded tensors: inputs, then outputs.
func (r *Record) Names() []string { return r.names }

// Root returns the Merkle root over a tensor's row frames.
func (r *Record) Root(name string) [32]byte { return RowsRoot(r.rows[name]) }

func (r *Record) roots(names []string) []NamedRoot {
	out := make([]NamedRoot, len(names))
	for i, n := range names {
		out[i] = NamedRoot{Name: n, Root: r.Root(n)}
	}
	return out
}

// RowsRoot is the commitment to a tensor's rows: the Merkle root of the
// SHA-256 of each one-row canonical frame.
func RowsRoot(rows []*ir.Frame) [32]byte {
	leaves := make([][32]byte, len(rows))
	for i, f := range rows {
		h, err := f.Hash()
		if err != nil {
			panic(fmt.Sprintf("recorded frame does not encode: %v", err)) // frames come from exec and were checked
		}
		leaves[i] = h
	}
	return ir.MerkleRoot(leaves)
}
