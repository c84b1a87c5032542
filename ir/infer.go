package ir

import "fmt"

// infer computes the dtype and row shape of an op's result from its operands
// in g. It is the single definition of each op's typing rules, shared by the
// Builder and Verify.
func infer(g *Graph, op Op, args []int, a *Attrs) (DType, Shape, error) {
	if !op.Valid() || op == OpNone {
		return Invalid, nil, fmt.Errorf("%w: %v", ErrUnknownOp, op)
	}
	if len(args) != op.Arity() {
		return Invalid, nil, fmt.Errorf("%w: %v takes %d operands, got %d", ErrGraph, op, op.Arity(), len(args))
	}
	ts := make([]*Tensor, len(args))
	for i, x := range args {
		if x < 0 || x >= len(g.Tensors) {
			return Invalid, nil, fmt.Errorf("%w: operand %d refers to tensor %d of %d", ErrGraph, i, x, len(g.Tensors))
		}
		ts[i] = &g.Tensors[x]
	}
	if err := checkAttrs(op, a); err != nil {
		return Invalid, nil, err
	}
	switch op {
	case OpEmbed:
		return inferEmbed(ts)
	case OpMatMul:
		return inferMatMul(ts)
	case OpAdd, OpMul:
		return inferBinary(op, ts)
	case OpRMSNorm:
		return inferRMSNorm(ts)
	case OpRoPE:
		return inferRoPE(ts, a)
	case OpSoftmax, OpSiLU, OpRelu:
		return ts[0].DType, ts[0].Shape.Clone(), wantRowF32(op, 0, ts[0])
	case OpSwiGLU:
		return inferBinary(op, ts)
	case OpAttention:
		return inferAttention(ts, a)
	case OpReshape:
		return inferReshape(ts, a)
	case OpSlice:
		return inferSlice(ts, a)
	case OpConcat:
		return inferConcat(ts, a)
	}
	return Invalid, nil, fmt.Errorf("%w: %v", ErrUnknownOp, op)
}

// usedAttrs says which attribute fields each op reads; others must be zero.
func checkAttrs(op Op, a *Attrs) error {
	b := *a
	switch op {
	case OpRMSNorm:
		b.Eps = 0
	case OpRoPE:
		b.HeadSize, b.Theta = 0, 0
	case OpAttention:
		b.Heads, b.KVHeads, b.HeadSize = 0, 0, 0
	case OpReshape:
		b.Shape = nil
	case OpSlice:
		b.Axis, b.Start, b.End = 0, 0, 0
	case OpConcat:
		b.Axis = 0
	}
	if !b.isZero() {
		return fmt.Errorf("%w: %v has attributes it does not use: %+v", ErrGraph, op, b)
	}
	return nil
}

func wantRowF32(op Op, i int, t *Tensor) error {
	if !t.Kind.Batched() {
		return fmt.Errorf("%w: %v operand %d must be an input or value, is a %v", ErrGraph, op, i, t.Kind)
	}
	if t.DType != F32 {
		return fmt.Errorf("%w: %v operand %d must be f32, is %v", ErrDType, op, i, t.DType)
	}
	return nil
}

func wantPos(op Op, t *Tensor) error {
	if !t.Kind.Batched() || t.DType != I32 || len(t.Shape) != 0 {
		return fmt.Errorf("%w: %v positions must be a per-row i32 scalar, are %v %v %v", ErrDType, op, t.Kind, t.DType, t.Shape)
	}
	return nil
}

func inferEmbed(ts []*Tensor) (DType, Shape, error) {
	table, ids := ts[0], ts[1]
	if table.Kind != KindWeight || len(table.Shape) != 2 || !table.DType.Float() {
		return Invalid, nil, fmt.Errorf("%w: embed table must be a 2-D float weight, is %v %v %v", ErrShape, table.Kind, table.DType, table.Shape)
	}
	if !ids.Kind.Batched() || ids.DType != I32 || len(ids.Shape) != 0 {
		return Invalid, nil, fmt.Errorf("%w: embed ids must be a per-row i32 scalar, are %v %v %v", ErrDType, ids.Kind, ids.DType, ids.Shape)
	}
	if table.Shape[1]%table.DType.BlockSize() != 0 {
		return Invalid, nil, fmt.Errorf("%w: embed row of %d is not whole %v blocks", ErrShape, table.Shape[1], table.DType)
	}
	return F32, Shape{table.Shape[1]}, nil
}

func inferMatMul(ts []*Tensor) (DType, Shape, error) {
	x, w := ts[0], ts[1]
	if err := wantRowF32(OpMatMul, 0, x); err != nil {
		return Invalid, nil, err
	}
	if w.Kind != KindWeight || len(w.Shape) != 2 || !w.DType.Float() {
		return Invalid, nil, fmt.Errorf("%w: matmul weight must be a 2-D float weight, is %v %v %v", ErrShape, w.Kind, w.DType, w.Shape)
	}
	if len(x.Shape) != 1 || x.Shape[0] != w.Shape[1] {
		return Invalid, nil, fmt.Errorf("%w: matmul of x %v by weight %v (want x [%d])", ErrShape, x.Shape, w.Shape, w.Shape[1])
	}
	if w.Shape[1]%w.DType.BlockSize() != 0 {
		return Invalid, nil, fmt.Errorf("%w: matmul weight row of %d is not whole %v blocks", ErrShape, w.Shape[1], w.DType)
	}
	return F32, Shape{w.Shape[0]}, nil
}

func inferBinary(op Op, ts []*Tensor) (DType, Shape, error) {
	a, b := ts[0], ts[1]
	if err := wantRowF32(op, 0, a); err != nil {
		return Invalid, nil, err
	}
	if b.DType != F32 || b.Kind == KindState || (op == OpSwiGLU && !b.Kind.Batched()) {
		return Invalid, nil, fmt.Errorf("%w: %v operand 1 must be f32 (a weight only for add/mul), is %v %v", ErrDType, op, b.Kind, b.DType)
	}
	if !a.Shape.Equal(b.Shape) {
		return Invalid, nil, fmt.Errorf("%w: %v of %v and %v", ErrShape, op, a.Shape, b.Shape)
	}
	return F32, a.Shape.Clone(), nil
}

func inferRMSNorm(ts []*Tensor) (DType, Shape, error) {
	x, w := ts[0], ts[1]
	if err := wantRowF32(OpRMSNorm, 0, x); err != nil {
		return Invalid, nil, err
	}
	if w.Kind != KindWeight || w.DType != F32 || len(x.Shape) != 1 || !w.Shape.Equal(x.Shape) {
		return Invalid, nil, fmt.Errorf("%w: rmsnorm of %v with weight %v %v %v", ErrShape, x.Shape, w.Kind, w.DType, w.Shape)
	}
	return F32, x.Shape.Clone(), nil
}

func inferRoPE(ts []*Tensor, a *Attrs) (DType, Shape, error) {
	x := ts[0]
	if err := wantRowF32(OpRoPE, 0, x); err != nil {
		return Invalid, nil, err
	}
	if err := wantPos(OpRoPE, ts[1]); err != nil {
		return Invalid, nil, err
	}
	if a.HeadSize <= 0 || a.HeadSize%2 != 0 || len(x.Shape) != 1 || x.Shape[0]%a.HeadSize != 0 || !(a.Theta > 0) {
		return Invalid, nil, fmt.Errorf("%w: rope of %v with head size %d, theta %v", ErrShape, x.Shape, a.HeadSize, a.Theta)
	}
	return F32, x.Shape.Clone(), nil
}

func inferAttention(ts []*Tensor, a *Attrs) (DType, Shape, error) {
	if a.Heads <= 0 || a.KVHeads <= 0 || a.HeadSize <= 0 || a.Heads%a.KVHeads != 0 {
		return Invalid, nil, fmt.Errorf("%w: attention with %d heads, %d kv heads, head size %d", ErrShape, a.Heads, a.KVHeads, a.HeadSize)
	}
	qw, kvw := a.Heads*a.HeadSize, a.KVHeads*a.HeadSize
	for i, want := range []int{qw, kvw, kvw} {
		if err := wantRowF32(OpAttention, i, ts[i]); err != nil {
			return Invalid, nil, err
		}
		if !ts[i].Shape.Equal(Shape{want}) {
			return Invalid, nil, fmt.Errorf("%w: attention operand %d is %v, want [%d]", ErrShape, i, ts[i].Shape, want)
		}
	}
	if err := wantPos(OpAttention, ts[3]); err != nil {
		return Invalid, nil, err
	}
	for i := 4; i < 6; i++ {
		c := ts[i]
		if c.Kind != KindState || c.DType != F32 || len(c.Shape) != 2 || c.Shape[1] != kvw {
			return Invalid, nil, fmt.Errorf("%w: attention cache %d must be an f32 state [ctx %d], is %v %v %v", ErrShape, i-4, kvw, c.Kind, c.DType, c.Shape)
		}
	}
	if !ts[4].Shape.Equal(ts[5].Shape) {
		return Invalid, nil, fmt.Errorf("%w: attention caches differ: %v and %v", ErrShape, ts[4].Shape, ts[5].Shape)
	}
	return F32, Shape{qw}, nil
}

func inferReshape(ts []*Tensor, a *Attrs) (DType, Shape, error) {
	x := ts[0]
	if !x.Kind.Batched() {
		return Invalid, nil, fmt.Errorf("%w: reshape operand must be an input or value", ErrGraph)
	}
	if err := checkShape(a.Shape); err != nil {
		return Invalid, nil, err
	}
	if a.Shape.Elems() != x.Shape.Elems() {
		return Invalid, nil, fmt.Errorf("%w: reshape %v to %v changes the element count", ErrShape, x.Shape, a.Shape)
	}
	return x.DType, a.Shape.Clone(), nil
}

func inferSlice(ts []*Tensor, a *Attrs) (DType, Shape, error) {
	x := ts[0]
	if !x.Kind.Batched() {
		return Invalid, nil, fmt.Errorf("%w: slice operand must be an input or value", ErrGraph)
	}
	if a.Axis < 0 || a.Axis >= len(x.Shape) || a.Start < 0 || a.End <= a.Start || a.End > x.Shape[a.Axis] {
		return Invalid, nil, fmt.Errorf("%w: slice [%d:%d] on axis %d of %v", ErrShape, a.Start, a.End, a.Axis, x.Shape)
	}
	s := x.Shape.Clone()
	s[a.Axis] = a.End - a.Start
	return x.DType, s, nil
}

func inferConcat(ts []*Tensor, a *Attrs) (DType, Shape, error) {
	x, y := ts[0], ts[1]
	if !x.Kind.Batched() || !y.Kind.Batched() || x.DType != y.DType {
		return Invalid, nil, fmt.Errorf("%w: concat of %v %v and %v %v", ErrDType, x.Kind, x.DType, y.Kind, y.DType)
	}
	if len(x.Shape) != len(y.Shape) || a.Axis < 0 || a.Axis >= len(x.Shape) {
		return Invalid, nil, fmt.Errorf("%w: concat of %v and %v on axis %d", ErrShape, x.Shape, y.Shape, a.Axis)
	}
	s := x.Shape.Clone()
	for i := range s {
		if i != a.Axis && s[i] != y.Shape[i] {
			return Invalid, nil, fmt.Errorf("%w: concat of %v and %v on axis %d", ErrShape, x.Shape, y.Shape, a.Axis)
		}
	}
	s[a.Axis] += y.Shape[a.Axis]
	return x.DType, s, nil
}
