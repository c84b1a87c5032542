package partition

import (
	"errors"
	"fmt"

	"github.com/splitup/splitup/ir"
)

// DefaultChunk is the prefill chunk, in rows (tokens), that activations are
// sized for when CostModel.Chunk is zero.
const DefaultChunk = 256

// CostModel says how much memory and compute a set of ops needs.
// The zero value is usable: the graph's own context, DefaultChunk rows of
// activations, no per-task overhead.
type CostModel struct {
	// Context is the KV-cache length in tokens the plan is for. The first
	// dimension of every State tensor is scaled to it; 0 keeps the graph's.
	Context int
	// Chunk is the number of rows (tokens) of one prefill chunk; live
	// activations are sized for it. 0 means DefaultChunk.
	Chunk int
	// TaskOverhead is the bytes of runtime memory every task needs besides
	// its tensors (CUDA context, kernels, allocator slack).
	TaskOverhead int64
}

// ErrCostModel is wrapped by CostModel.Validate errors.
var ErrCostModel = errors.New("invalid cost model")

// Validate reports negative or absurd fields.
func (c CostModel) Validate() error {
	switch {
	case c.Context < 0 || c.Context > 1<<24:
		return fmt.Errorf("%w: context %d must be in [0, 2^24] tokens", ErrCostModel, c.Context)
	case c.Chunk < 0 || c.Chunk > 1<<20:
		return fmt.Errorf("%w: chunk %d must be in [0, 2^20] rows", ErrCostModel, c.Chunk)
	case c.TaskOverhead < 0:
		return fmt.Errorf("%w: task overhead %d bytes must not be negative", ErrCostModel, c.TaskOverhead)
	}
	return nil
}

func (c CostModel) chunk() int64 {
	if c.Chunk == 0 {
		return DefaultChunk
	}
	return int64(c.Chunk)
}

// StateBytes returns the bytes of state tensor t for c's context.
func (c CostModel) StateBytes(t *ir.Tensor) int64 {
	n := t.Shape.Elems()
	if c.Context > 0 && len(t.Shape) > 0 {
		n = n / int64(t.Shape[0]) * int64(c.Context)
	}
	b, err := t.DType.Bytes(n)
	if err != nil {
		return 0
	}
	return b
}

// context returns the KV length the attention op t reads, for FLOPs and
// scratch: the model's context under c.
func (c CostModel) context(g *ir.Graph, t *ir.Tensor) int64 {
	if c.Context > 0 {
		return int64(c.Context)
	}
	return int64(g.Tensors[t.Args[4]].Shape[0])
}

// OpFLOPs returns the floating-point operations of op tensor i per row
// (per decoded token): the "compute units" of a task are their sum.
// Attention is counted over the full context.
func (c CostModel) OpFLOPs(g *ir.Graph, i int) int64 {
	t := &g.Tensors[i]
	out := t.Shape.Elems()
	switch t.Op {
	case ir.OpMatMul:
		return 2 * out * int64(g.Tensors[t.Args[1]].Shape[1])
	case ir.OpAttention:
		return 4 * out * c.context(g, t)
	case ir.OpRMSNorm:
		return 3 * out
	case ir.OpRoPE, ir.OpSoftmax:
		return 4 * out
	case ir.OpSiLU, ir.OpSwiGLU:
		return 5 * out
	case ir.OpReshape, ir.OpSlice, ir.OpConcat, ir.OpEmbed:
		return 0
	}
	return out
}

// opScratch returns the scratch bytes per row an op needs while it runs
// besides its operands and result: attention's score row per head.
func (c CostModel) opScratch(g *ir.Graph, i int) int64 {
	t := &g.Tensors[i]
	if t.Op != ir.OpAttention {
		return 0
	}
	return int64(t.Attrs.Heads) * c.context(g, t) * 4
}
