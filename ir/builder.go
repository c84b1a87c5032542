package ir

import "fmt"

// Ref is a handle to a tensor of the graph being built.
type Ref int

// Builder assembles a graph op by op. Ops are lazy: nothing is computed.
// The first error sticks; later calls are no-ops and Build returns it, so a
// model can be written as straight-line code and checked once:
//
//	b := ir.NewBuilder()
//	x := b.Input("x", ir.F32, ir.Shape{784})
//	h := b.Relu(b.MatMul(x, b.Weight("w1", ir.F32, ir.Shape{128, 784})))
//	b.Output("logits", b.MatMul(h, b.Weight("w2", ir.F32, ir.Shape{10, 128})))
//	g, err := b.Build()
type Builder struct {
	g     Graph
	err   error
	names map[string]bool
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{names: map[string]bool{}} }

// Err returns the first error so far.
func (b *Builder) Err() error { return b.err }

func (b *Builder) fail(err error) Ref {
	if b.err == nil {
		b.err = err
	}
	return -1
}

func (b *Builder) leaf(name string, k Kind, dt DType, s Shape) Ref {
	if b.err != nil {
		return -1
	}
	if name == "" || b.names[name] {
		return b.fail(fmt.Errorf("%w: %v name %q is empty or already used", ErrGraph, k, name))
	}
	t := Tensor{Name: name, Kind: k, DType: dt, Shape: s.Clone()}
	if err := verifyTensor(&t); err != nil {
		return b.fail(fmt.Errorf("%v %q: %w", k, name, err))
	}
	b.names[name] = true
	b.g.Tensors = append(b.g.Tensors, t)
	return Ref(len(b.g.Tensors) - 1)
}

// Input declares a per-row input; shape excludes the batch dimension.
func (b *Builder) Input(name string, dt DType, s Shape) Ref { return b.leaf(name, KindInput, dt, s) }

// Weight declares a constant bound by name when the graph runs.
func (b *Builder) Weight(name string, dt DType, s Shape) Ref { return b.leaf(name, KindWeight, dt, s) }

// State declares per-session persistent state (a KV cache).
func (b *Builder) State(name string, dt DType, s Shape) Ref { return b.leaf(name, KindState, dt, s) }

func (b *Builder) op(op Op, a Attrs, args ...Ref) Ref {
	if b.err != nil {
		return -1
	}
	idx := make([]int, len(args))
	for i, r := range args {
		idx[i] = int(r)
	}
	dt, s, err := infer(&b.g, op, idx, &a)
	if err != nil {
		return b.fail(fmt.Errorf("tensor %d (%v): %w", len(b.g.Tensors), op, err))
	}
	b.g.Tensors = append(b.g.Tensors, Tensor{Kind: KindValue, DType: dt, Shape: s, Op: op, Args: idx, Attrs: a})
	return Ref(len(b.g.Tensors) - 1)
}

// Name gives value r a unique name (useful for cuts and debugging) and returns r.
func (b *Builder) Name(r Ref, name string) Ref {
	if b.err != nil {
		return r
	}
	if r < 0 || int(r) >= len(b.g.Tensors) || name == "" || b.names[name] || len(name) > MaxName {
		return b.fail(fmt.Errorf("%w: cannot name tensor %d %q", ErrGraph, r, name))
	}
	if old := b.g.Tensors[r].Name; old != "" {
		delete(b.names, old)
	}
	b.names[name] = true
	b.g.Tensors[r].Name = name
	return r
}

// Shape returns the (row) shape of r, or nil after an error.
func (b *Builder) Shape(r Ref) Shape {
	if b.err != nil || r < 0 || int(r) >= len(b.g.Tensors) {
		return nil
	}
	return b.g.Tensors[r].Shape.Clone()
}

// Embed looks up rows of table by the token ids.
func (b *Builder) Embed(table, ids Ref) Ref { return b.op(OpEmbed, Attrs{}, table, ids) }

// MatMul multiplies each row x by weight w [N K]: out[i] = dot(w[i], x).
func (b *Builder) MatMul(x, w Ref) Ref { return b.op(OpMatMul, Attrs{}, x, w) }

// Add adds elementwise; y may be a weight broadcast over rows.
func (b *Builder) Add(x, y Ref) Ref { return b.op(OpAdd, Attrs{}, x, y) }

// Mul multiplies elementwise; y may be a weight broadcast over rows.
func (b *Builder) Mul(x, y Ref) Ref { return b.op(OpMul, Attrs{}, x, y) }

// RMSNorm normalises x by its root mean square and scales by w.
func (b *Builder) RMSNorm(x, w Ref, eps float32) Ref {
	return b.op(OpRMSNorm, Attrs{Eps: eps}, x, w)
}

// RoPE rotates adjacent pairs of each head of x by position pos.
func (b *Builder) RoPE(x, pos Ref, headSize int, theta float32) Ref {
	return b.op(OpRoPE, Attrs{HeadSize: headSize, Theta: theta}, x, pos)
}

// Softmax normalises over the last dimension.
func (b *Builder) Softmax(x Ref) Ref { return b.op(OpSoftmax, Attrs{}, x) }

// SiLU applies x*sigmoid(x).
func (b *Builder) SiLU(x Ref) Ref { return b.op(OpSiLU, Attrs{}, x) }

// SwiGLU computes silu(gate)*up.
func (b *Builder) SwiGLU(gate, up Ref) Ref { return b.op(OpSwiGLU, Attrs{}, gate, up) }

// Relu applies max(x, 0).
func (b *Builder) Relu(x Ref) Ref { return b.op(OpRelu, Attrs{}, x) }

// Attention appends k, v to the caches at pos and attends causally.
func (b *Builder) Attention(q, k, v, pos, kcache, vcache Ref, heads, kvHeads, headSize int) Ref {
	return b.op(OpAttention, Attrs{Heads: heads, KVHeads: kvHeads, HeadSize: headSize}, q, k, v, pos, kcache, vcache)
}

// Reshape gives x a new row shape with the same element count.
func (b *Builder) Reshape(x Ref, s Shape) Ref { return b.op(OpReshape, Attrs{Shape: s.Clone()}, x) }

// Slice keeps [start, end) of axis of each row of x.
func (b *Builder) Slice(x Ref, axis, start, end int) Ref {
	return b.op(OpSlice, Attrs{Axis: axis, Start: start, End: end}, x)
}

// Concat joins rows of x and y along axis.
func (b *Builder) Concat(x, y Ref, axis int) Ref { return b.op(OpConcat, Attrs{Axis: axis}, x, y) }

// Output marks r as a result of a step under name.
func (b *Builder) Output(name string, r Ref) {
	if b.err != nil {
		return
	}
	b.g.Outputs = append(b.g.Outputs, Output{Name: name, Tensor: int(r)})
}

// Build verifies and returns the graph.
func (b *Builder) Build() (*Graph, error) {
	if b.err != nil {
		return nil, fmt.Errorf("build graph: %w", b.err)
	}
	g := b.g
	if err := g.Verify(); err != nil {
		return nil, err
	}
	return &g, nil
}
