package exec

import (
	"fmt"

	"github.com/splitup/splitup/ir"
)

// apply computes value t (n rows) into out.
func (s *Session) apply(t *ir.Tensor, out Tensor, n int) error {
	g, k := s.p.g, s.p.k
	arg := func(j int) Tensor { return s.vals[t.Args[j]] }
	// f32 returns operand j as f32: a row-major value or a decoded weight.
	f32 := func(j int) []float32 {
		a := t.Args[j]
		if g.Tensors[a].Kind == ir.KindWeight {
			return s.p.wf32[a]
		}
		return s.vals[a].F32
	}
	a := &t.Attrs
	switch t.Op {
	case ir.OpEmbed:
		tab := &g.Tensors[t.Args[0]]
		return k.Embed(out.F32, s.p.wdata[t.Args[0]], tab.DType, tab.Shape[0], tab.Shape[1], arg(1).I32)
	case ir.OpAdd:
		k.Add(out.F32, f32(0), f32(1))
	case ir.OpMul:
		k.Mul(out.F32, f32(0), f32(1))
	case ir.OpRMSNorm:
		d := t.Shape[0]
		k.RMSNorm(out.F32, f32(0), n, d, f32(1), a.Eps)
	case ir.OpRoPE:
		k.RoPE(out.F32, f32(0), n, t.Shape[0], arg(1).I32, a.HeadSize, a.Theta)
	case ir.OpSoftmax:
		d := t.Shape.Last()
		k.Softmax(out.F32, f32(0), len(out.F32)/d, d)
	case ir.OpSiLU:
		k.SiLU(out.F32, f32(0))
	case ir.OpSwiGLU:
		k.SwiGLU(out.F32, f32(0), f32(1))
	case ir.OpRelu:
		k.Relu(out.F32, f32(0))
	case ir.OpAttention:
		kc, vc := s.stateOf(t.Args[4]), s.stateOf(t.Args[5])
		ctx := g.Tensors[t.Args[4]].Shape[0]
		return k.Attention(out.F32, f32(0), f32(1), f32(2), n, arg(3).I32, kc, vc, ctx, a.Heads, a.KVHeads, a.HeadSize)
	case ir.OpReshape:
		copyData(out, arg(0))
	case ir.OpSlice:
		x := &g.Tensors[t.Args[0]]
		sliceCopy(out, arg(0), x.Shape, a.Axis, a.Start, a.End)
	case ir.OpConcat:
		concatCopy(out, arg(0), arg(1), g.Tensors[t.Args[0]].Shape, g.Tensors[t.Args[1]].Shape, a.Axis)
	default:
		return fmt.Errorf("op %v has no kernel", t.Op)
	}
	return nil
}

func copyData(dst, src Tensor) {
	copy(dst.F32, src.F32)
	copy(dst.I32, src.I32)
}

// span splits a row shape at axis: outer = product of dims before axis,
// inner = product of dims after it.
func span(s ir.Shape, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	return outer, inner
}

func sliceCopy(dst, src Tensor, s ir.Shape, axis, start, end int) {
	outer, inner := span(s, axis)
	rows := src.Rows() * outer
	w, sw := (end-start)*inner, s[axis]*inner
	for r := 0; r < rows; r++ {
		if src.DType == ir.I32 {
			copy(dst.I32[r*w:(r+1)*w], src.I32[r*sw+start*inner:])
		} else {
			copy(dst.F32[r*w:(r+1)*w], src.F32[r*sw+start*inner:])
		}
	}
}

func concatCopy(dst, a, b Tensor, sa, sb ir.Shape, axis int) {
	outer, inner := span(sa, axis)
	rows := a.Rows() * outer
	wa, wb := sa[axis]*inner, sb[axis]*inner
	for r := 0; r < rows; r++ {
		o := r * (wa + wb)
		if a.DType == ir.I32 {
			copy(dst.I32[o:o+wa], a.I32[r*wa:(r+1)*wa])
			copy(dst.I32[o+wa:o+wa+wb], b.I32[r*wb:(r+1)*wb])
		} else {
			copy(dst.F32[o:o+wa], a.F32[r*wa:(r+1)*wa])
			copy(dst.F32[o+wa:o+wa+wb], b.F32[r*wb:(r+1)*wb])
		}
	}
}
