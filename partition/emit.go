package partition

import (
	"fmt"

	"github.com/splitup/splitup/ir"
)

// emit re-creates value tensor t in b over the operands args.
func emit(b *ir.Builder, t *ir.Tensor, args []ir.Ref) ir.Ref {
	at := &t.Attrs
	switch t.Op {
	case ir.OpEmbed:
		return b.Embed(args[0], args[1])
	case ir.OpMatMul:
		return b.MatMul(args[0], args[1])
	case ir.OpAdd:
		return b.Add(args[0], args[1])
	case ir.OpMul:
		return b.Mul(args[0], args[1])
	case ir.OpRMSNorm:
		return b.RMSNorm(args[0], args[1], at.Eps)
	case ir.OpRoPE:
		return b.RoPE(args[0], args[1], at.HeadSize, at.Theta)
	case ir.OpSoftmax:
		return b.Softmax(args[0])
	case ir.OpSiLU:
		return b.SiLU(args[0])
	case ir.OpSwiGLU:
		return b.SwiGLU(args[0], args[1])
	case ir.OpRelu:
		return b.Relu(args[0])
	case ir.OpAttention:
		return b.Attention(args[0], args[1], args[2], args[3], args[4], args[5], at.Heads, at.KVHeads, at.HeadSize)
	case ir.OpReshape:
		return b.Reshape(args[0], at.Shape)
	case ir.OpSlice:
		return b.Slice(args[0], at.Axis, at.Start, at.End)
	case ir.OpConcat:
		return b.Concat(args[0], args[1], at.Axis)
	}
	panic(fmt.Sprintf("partition: op %v has no emitter", t.Op))
}

// leaf declares input, weight or state tensor t in b under its own name.
func leaf(b *ir.Builder, t *ir.Tensor) ir.Ref {
	switch t.Kind {
	case ir.KindInput:
		return b.Input(t.Name, t.DType, t.Shape)
	case ir.KindWeight:
		return b.Weight(t.Name, t.DType, t.Shape)
	case ir.KindState:
		return b.State(t.Name, t.DType, t.Shape)
	}
	panic(fmt.Sprintf("partition: %v is not a leaf", t.Kind))
}
