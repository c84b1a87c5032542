package exec

import (
	"fmt"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
)

// Session holds the state tensors of one conversation and reusable buffers.
// A Session is not safe for concurrent use.
type Session struct {
	p     *Program
	state [][]float32 // per state tensor, allocated on first use
	vals  []Tensor    // per tensor, during a Run
	free  [][]float32 // recycled f32 buffers
	parts []kernels.MatMulPart
}

// NewSession returns a session with zeroed state.
func (p *Program) NewSession() *Session {
	return &Session{p: p, state: make([][]float32, len(p.g.Tensors)), vals: make([]Tensor, len(p.g.Tensors))}
}

// Reset clears the session's state (a new conversation).
func (s *Session) Reset() {
	for _, st := range s.state {
		clear(st)
	}
}

// StateBytes returns the bytes of state allocated so far.
func (s *Session) StateBytes() int64 {
	var n int64
	for _, st := range s.state {
		n += 4 * int64(len(st))
	}
	return n
}

// Run executes the graph for the rows of inputs (every graph input by name,
// all with the same row count n ≥ 1) and returns every graph output by name.
func (s *Session) Run(inputs map[string]Tensor) (map[string]Tensor, error) {
	g := s.p.g
	n, err := s.bindInputs(inputs)
	if err != nil {
		return nil, err
	}
	defer clear(s.vals)
	for step, i := range s.p.order {
		t := &g.Tensors[i]
		switch {
		case s.p.early[i]: // computed with the first MatMul of its group
		case s.p.group[i] != nil:
			s.matMuls(s.p.group[i], n)
		default:
			s.vals[i] = s.alloc(t, n)
			if err := s.apply(t, s.vals[i], n); err != nil {
				return nil, fmt.Errorf("exec: tensor %d %q (%v): %w", i, t.Name, t.Op, err)
			}
		}
		for _, a := range t.Args {
			if s.p.lastUse[a] == step && !s.p.isOut[a] && g.Tensors[a].Kind == ir.KindValue && s.vals[a].DType == ir.F32 {
				s.free = append(s.free, s.vals[a].F32)
			}
		}
	}
	out := make(map[string]Tensor, len(g.Outputs))
	for _, o := range g.Outputs {
		out[o.Name] = s.vals[o.Tensor]
	}
	return out, nil
}

func (s *Session) bindInputs(inputs map[string]Tensor) (int, error) {
	g := s.p.g
	n := -1
	for _, i := range g.OfKind(ir.KindInput) {
		t := &g.Tensors[i]
		in, ok := inputs[t.Name]
		if !ok {
			return 0, fmt.Errorf("exec: %w: input %q is missing", ErrInput, t.Name)
		}
		if in.DType != t.DType || len(in.Shape) != len(t.Shape)+1 || !ir.Shape(in.Shape[1:]).Equal(t.Shape) {
			return 0, fmt.Errorf("exec: %w: input %q is %v %v, want %v [n %v]", ErrInput, t.Name, in.DType, in.Shape, t.DType, t.Shape)
		}
		rows := in.Shape[0]
		if n >= 0 && rows != n {
			return 0, fmt.Errorf("exec: %w: input %q has %d rows, others %d", ErrInput, t.Name, rows, n)
		}
		n = rows
		if int64(in.Len()) != int64(rows)*t.Shape.Elems() {
			return 0, fmt.Errorf("exec: %w: input %q holds %d elements, shape %v needs %d", ErrInput, t.Name, in.Len(), in.Shape, int64(rows)*t.Shape.Elems())
		}
		s.vals[i] = in
	}
	if len(inputs) != len(g.OfKind(ir.KindInput)) {
		for name := range inputs {
			if j := g.Lookup(name); j < 0 || g.Tensors[j].Kind != ir.KindInput {
				return 0, fmt.Errorf("exec: %w: %q is not an input of this graph", ErrInput, name)
			}
		}
	}
	if n < 1 || n > s.p.maxRows {
		return 0, fmt.Errorf("exec: %w: %d rows, want 1..%d", ErrInput, n, s.p.maxRows)
	}
	return n, nil
}

// multiMatMul is implemented by kernels that compute several MatMuls of one
// activation in one call.
type multiMatMul interface {
	MatMuls(x []float32, n, cols int, parts []kernels.MatMulPart)
}

// matMuls computes the MatMul tensors ms, which all read the same
// activation, allocating their outputs.
func (s *Session) matMuls(ms []int, n int) {
	g := s.p.g
	mk, ok := s.p.k.(multiMatMul)
	if cap(s.parts) < len(ms) {
		s.parts = make([]kernels.MatMulPart, len(ms))
	}
	parts := s.parts[:len(ms)]
	for j, i := range ms {
		t := &g.Tensors[i]
		s.vals[i] = s.alloc(t, n)
		w := &g.Tensors[t.Args[1]]
		parts[j] = kernels.MatMulPart{Out: s.vals[i].F32, W: s.p.wmm[t.Args[1]], DType: w.DType, Rows: w.Shape[0], Packed: s.p.packed[t.Args[1]]}
		if !ok { // packed weights only come with kernels that have MatMuls
			s.p.k.MatMul(parts[j].Out, s.vals[t.Args[0]].F32, n, parts[j].W, w.DType, w.Shape[0], w.Shape[1])
		}
	}
	if ok {
		cols := g.Tensors[g.Tensors[ms[0]].Args[1]].Shape[1]
		mk.MatMuls(s.vals[g.Tensors[ms[0]].Args[0]].F32, n, cols, parts)
	}
	clear(parts)
}

// alloc returns an output tensor for t with n rows, reusing a free buffer.
func (s *Session) alloc(t *ir.Tensor, n int) Tensor {
	shape := append(ir.Shape{n}, t.Shape...)
	size := n * int(t.Shape.Elems())
	if t.DType == ir.I32 {
		return Tensor{DType: ir.I32, Shape: shape, I32: make([]int32, size)}
	}
	for j := len(s.free) - 1; j >= 0; j-- {
		if b := s.free[j]; cap(b) >= size {
			s.free[j] = s.free[len(s.free)-1]
			s.free = s.free[:len(s.free)-1]
			return Tensor{DType: ir.F32, Shape: shape, F32: b[:size]}
		}
	}
	return Tensor{DType: ir.F32, Shape: shape, F32: make([]float32, size)}
}

// stateOf returns the (lazily zeroed) buffer of state tensor i.
func (s *Session) stateOf(i int) []float32 {
	if s.state[i] == nil {
		s.state[i] = make([]float32, s.p.g.Tensors[i].Shape.Elems())
	}
	return s.state[i]
}
