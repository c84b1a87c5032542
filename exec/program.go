package exec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
)

// Options configure a Program.
type Options struct {
	// Threads is the number of worker threads of the fast kernels (default 1).
	Threads int
	// Reference selects the scalar reference kernels (the specification).
	Reference bool
	// MaxRows caps the rows of one Run (default 4096).
	MaxRows int
}

// Validate reports bad options.
func (o Options) Validate() error {
	if o.Threads < 0 || o.Threads > 1024 {
		return fmt.Errorf("exec: threads %d out of range 0..1024", o.Threads)
	}
	if o.MaxRows < 0 {
		return fmt.Errorf("exec: max rows %d is negative", o.MaxRows)
	}
	return nil
}

// ErrInput is wrapped by errors about the inputs of a Run.
var ErrInput = errors.New("bad input")

// Program is a graph bound to weights and kernels. It is safe for concurrent
// use by several sessions only if the kernels are; use one Program per
// goroutine or serialise Runs.
type Program struct {
	g       *ir.Graph
	order   []int       // value tensors in execution order
	lastUse []int       // per tensor: position in order of its last reader (-1: none)
	isOut   []bool      // per tensor: read by the caller
	group   [][]int     // per tensor: the MatMuls computed with it in one call, itself first
	early   []bool      // per tensor: computed by an earlier MatMul's group
	wdata   [][]byte    // per embedding table: its data
	wmm     [][]byte    // per weight tensor read by MatMuls: the data they read
	packed  []bool      // per weight tensor: wmm is in the kernels' packed layout
	wf32    [][]float32 // per f32 weight tensor read as an f32 operand: decoded values
	k       kernels.Kernels
	maxRows int
}

// New binds g's weights and prepares kernels. g must verify.
func New(g *ir.Graph, w Weights, o Options) (*Program, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := g.Verify(); err != nil {
		return nil, err
	}
	order, err := g.Order()
	if err != nil {
		return nil, err
	}
	n := len(g.Tensors)
	p := &Program{g: g, maxRows: o.MaxRows, wdata: make([][]byte, n), wmm: make([][]byte, n), packed: make([]bool, n), wf32: make([][]float32, n)}
	if p.maxRows == 0 {
		p.maxRows = 4096
	}
	if o.Reference {
		p.k = kernels.Reference()
	} else {
		p.k = kernels.Fast(max(o.Threads, 1))
	}
	if err := p.bind(w); err != nil {
		p.Close()
		return nil, err
	}
	p.plan(order)
	return p, nil
}

// preparer is implemented by kernels that read MatMul weights faster from
// a copy of their own (see kernels.FastKernels.Prepare).
type preparer interface {
	Prepare(w []byte, dt ir.DType, rows, cols int) (data []byte, packed bool)
}

// weightUses reports, per weight tensor, whether some op reads it as an
// f32 operand (not as MatMul weights or an embedding table), whether a
// MatMul reads it as its weights and whether Embed reads it as its table.
func (p *Program) weightUses() (asF32, byMatMul, byEmbed []bool) {
	n := len(p.g.Tensors)
	asF32, byMatMul, byEmbed = make([]bool, n), make([]bool, n), make([]bool, n)
	for _, t := range p.g.Tensors {
		for j, a := range t.Args {
			if p.g.Tensors[a].Kind != ir.KindWeight {
				continue
			}
			switch {
			case t.Op == ir.OpMatMul && j == 1:
				byMatMul[a] = true
			case t.Op == ir.OpEmbed && j == 0:
				byEmbed[a] = true
			default:
				asF32[a] = true
			}
		}
	}
	return asF32, byMatMul, byEmbed
}

// Graph returns the program's graph.
func (p *Program) Graph() *ir.Graph { return p.g }

// Close stops the kernels' worker threads.
func (p *Program) Close() error {
	if c, ok := p.k.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// bind checks and takes the weights. With kernels that prepare their own
// copies (the fast ones), the program keeps no reference to w's data:
// MatMul weights are prepared, embedding tables copied and f32 operands
// decoded, so a caller may release w (a worker's shard, a mapped file).
func (p *Program) bind(w Weights) error {
	asF32, byMatMul, byEmbed := p.weightUses()
	pk, prepares := p.k.(preparer)
	for _, i := range p.g.OfKind(ir.KindWeight) {
		t := &p.g.Tensors[i]
		wt, ok := w.Weight(t.Name)
		if !ok {
			return fmt.Errorf("exec: weight %q (%v %v) is missing", t.Name, t.DType, t.Shape)
		}
		if wt.DType != t.DType || !wt.Shape.Equal(t.Shape) {
			return fmt.Errorf("exec: weight %q is %v %v, graph wants %v %v", t.Name, wt.DType, wt.Shape, t.DType, t.Shape)
		}
		if int64(len(wt.Data)) != p.g.Bytes(i) {
			return fmt.Errorf("exec: weight %q has %d bytes, %v %v needs %d", t.Name, len(wt.Data), t.DType, t.Shape, p.g.Bytes(i))
		}
		if byMatMul[i] {
			// A table that Embed also reads (tied embeddings) is kept twice.
			p.wmm[i] = wt.Data
			if prepares {
				p.wmm[i], p.packed[i] = pk.Prepare(wt.Data, t.DType, t.Shape[0], t.Shape[1])
			}
		}
		if byEmbed[i] {
			p.wdata[i] = wt.Data
			if prepares {
				p.wdata[i] = bytes.Clone(wt.Data)
			}
		}
		if t.DType == ir.F32 && asF32[i] {
			f := make([]float32, len(wt.Data)/4)
			for j := range f {
				f[j] = math.Float32frombits(binary.LittleEndian.Uint32(wt.Data[4*j:]))
			}
			p.wf32[i] = f
		}
	}
	return nil
}

// plan computes the execution order of values and the last reader of every
// tensor, so buffers can be recycled.
func (p *Program) plan(order []int) {
	n := len(p.g.Tensors)
	p.lastUse = make([]int, n)
	p.isOut = make([]bool, n)
	for i := range p.lastUse {
		p.lastUse[i] = -1
	}
	for _, i := range order {
		if p.g.Tensors[i].Kind == ir.KindValue {
			p.order = append(p.order, i)
		}
	}
	for step, i := range p.order {
		for _, a := range p.g.Tensors[i].Args {
			p.lastUse[a] = step
		}
	}
	for _, o := range p.g.Outputs {
		p.isOut[o.Tensor] = true
	}
	p.groupMatMuls()
}

// groupMatMuls finds the MatMuls that read the same activation (a layer's
// q, k and v; gate and up): the first of them in order computes them all in
// one call of kernels that offer MatMuls, which is one parallel loop instead
// of several. Each output keeps the bits of its own MatMul. A MatMul alone
// is a group of one: every MatMul runs through Session.matMuls.
func (p *Program) groupMatMuls() {
	n := len(p.g.Tensors)
	p.group = make([][]int, n)
	p.early = make([]bool, n)
	byInput := map[int][]int{}
	var inputs []int
	for _, i := range p.order {
		t := &p.g.Tensors[i]
		if t.Op != ir.OpMatMul {
			continue
		}
		x := t.Args[0]
		if byInput[x] == nil {
			inputs = append(inputs, x)
		}
		byInput[x] = append(byInput[x], i)
	}
	for _, x := range inputs {
		ms := byInput[x]
		p.group[ms[0]] = ms
		for _, j := range ms[1:] {
			p.early[j] = true
		}
	}
}
