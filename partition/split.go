package partition

import (
	"errors"
	"fmt"

	"github.com/splitup/splitup/ir"
)

// ErrOpTooLarge is wrapped by OpTooLargeError.
var ErrOpTooLarge = errors.New("op does not fit the budget")

// OpTooLargeError names an op that needs more memory than one task may
// have and that cannot be split (only MatMul splits, by output rows).
type OpTooLargeError struct {
	// Tensor is the op's tensor index in the graph.
	Tensor int
	// Name is the tensor's name, if any.
	Name string
	// Op is the operation.
	Op ir.Op
	// Bytes is the memory the op needs alone, as the cost model counts it.
	Bytes int64
	// Budget is the per-task budget.
	Budget int64
}

// Error says which op, how large, and what to change.
func (e *OpTooLargeError) Error() string {
	return fmt.Sprintf("%v: tensor %d %q (%v) needs %d bytes alone, the budget is %d; raise the target VRAM, lower the context or prefill chunk, or quantise its weights",
		ErrOpTooLarge, e.Tensor, e.Name, e.Op, e.Bytes, e.Budget)
}

// Unwrap returns ErrOpTooLarge.
func (e *OpTooLargeError) Unwrap() error { return ErrOpTooLarge }

// Shard is a weight that holds a row range of another: the loader slices
// rows [RowStart, RowEnd) of Source and binds them as Name.
type Shard struct {
	// Name is the new weight's name, "Source#rowsA-B" with B = RowEnd-1.
	Name string `json:"name"`
	// Source is the original weight's name.
	Source string `json:"source"`
	// RowStart is the first row (inclusive).
	RowStart int `json:"row_start"`
	// RowEnd is one past the last row.
	RowEnd int `json:"row_end"`
}

// ShardName returns the name of rows [start, end) of weight source.
func ShardName(source string, start, end int) string {
	return fmt.Sprintf("%s#rows%d-%d", source, start, end-1)
}

// pieces returns how many row slices MatMul op i needs so that each fits
// budget, or 0 when even a single row does not fit.
func (a *analysis) pieces(i int, budget int64) int {
	g := a.g
	t := &g.Tensors[i]
	w := &g.Tensors[t.Args[1]]
	n, k := w.Shape[0], w.Shape[1]
	in := a.chunk * a.rowBytes[t.Args[0]]
	fits := func(rows int) bool {
		wb, err := w.DType.Bytes(int64(rows) * int64(k))
		return err == nil && a.cost.TaskOverhead+wb+in+a.chunk*4*int64(rows) <= budget
	}
	if !fits(1) {
		return 0
	}
	lo, hi := 1, n // fits((n+hi-1)/hi) holds
	for lo < hi {
		m := (lo + hi) / 2
		if fits((n + m - 1) / m) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// oversize checks every op alone against budget. It returns the MatMuls to
// split (tensor -> pieces) or the error of the first op that cannot fit.
func (a *analysis) oversize(budget int64) (map[int]int, error) {
	split := map[int]int{}
	for p, i := range a.ops {
		s := a.begin(p)
		s.add()
		if v := s.vram(); v > budget {
			t := &a.g.Tensors[i]
			m := 0
			if t.Op == ir.OpMatMul {
				m = a.pieces(i, budget)
			}
			if m < 2 {
				return nil, &OpTooLargeError{Tensor: i, Name: t.Name, Op: t.Op, Bytes: v, Budget: budget}
			}
			split[i] = m
		}
	}
	return split, nil
}

// splitOps rebuilds g with each MatMul in split replaced by row-slice
// MatMuls over shard weights joined by Concats.
func splitOps(g *ir.Graph, split map[int]int) (*ir.Graph, []Shard, error) {
	order, err := g.Order()
	if err != nil {
		return nil, nil, err
	}
	b := ir.NewBuilder()
	refs := make([]ir.Ref, len(g.Tensors))
	for i := range refs {
		refs[i] = -1
	}
	ref := func(x int) ir.Ref {
		if refs[x] == -1 && g.Tensors[x].Kind != ir.KindValue { // leaves are declared when first used
			refs[x] = leaf(b, &g.Tensors[x])
		}
		return refs[x]
	}
	for _, i := range g.OfKind(ir.KindInput) {
		ref(i)
	}
	var shards []Shard
	made := map[string]ir.Ref{} // shard weights, shared by MatMuls of one weight
	for _, i := range order {
		t := &g.Tensors[i]
		if t.Kind != ir.KindValue {
			continue
		}
		if m := split[i]; m > 1 {
			var sh []Shard
			refs[i], sh = splitMatMul(b, g, i, m, ref(t.Args[0]), made)
			shards = append(shards, sh...)
		} else {
			args := make([]ir.Ref, len(t.Args))
			for k, x := range t.Args {
				args[k] = ref(x)
			}
			refs[i] = emit(b, t, args)
		}
		if t.Name != "" {
			b.Name(refs[i], t.Name)
		}
	}
	for _, o := range g.Outputs {
		b.Output(o.Name, ref(o.Tensor))
	}
	out, err := b.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("split oversize ops: %w", err)
	}
	return out, shards, nil
}

// splitMatMul emits MatMul op i as m row slices of its weight.
// Shard weights already declared are taken from made; new ones are added
// to it and returned.
func splitMatMul(b *ir.Builder, g *ir.Graph, i, m int, x ir.Ref, made map[string]ir.Ref) (ir.Ref, []Shard) {
	w := &g.Tensors[g.Tensors[i].Args[1]]
	n := w.Shape[0]
	var out ir.Ref = -1
	var shards []Shard
	start := 0
	for k := 0; k < m; k++ {
		rows := n / m
		if k < n%m {
			rows++
		}
		sh := Shard{Name: ShardName(w.Name, start, start+rows), Source: w.Name, RowStart: start, RowEnd: start + rows}
		wr, ok := made[sh.Name]
		if !ok {
			wr = b.Weight(sh.Name, w.DType, ir.Shape{rows, w.Shape[1]})
			made[sh.Name] = wr
			shards = append(shards, sh)
		}
		part := b.MatMul(x, wr)
		if out < 0 {
			out = part
		} else {
			out = b.Concat(out, part, 0)
		}
		start += rows
	}
	return out, shards
}

// Slice returns rows [s.RowStart, s.RowEnd) of src, the frame of weight
// s.Source, as the frame of weight s.Name. The data is shared, not copied.
func (s Shard) Slice(src *ir.Frame) (*ir.Frame, error) {
	if err := src.Check(); err != nil {
		return nil, fmt.Errorf("shard %s: %w", s.Name, err)
	}
	if len(src.Shape) != 2 || s.RowStart < 0 || s.RowEnd <= s.RowStart || s.RowEnd > src.Shape[0] {
		return nil, fmt.Errorf("shard %s: %w: rows [%d, %d) of %v", s.Name, ir.ErrShape, s.RowStart, s.RowEnd, src.Shape)
	}
	row, err := src.DType.Bytes(int64(src.Shape[1]))
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", s.Name, err)
	}
	data := src.Data[int64(s.RowStart)*row : int64(s.RowEnd)*row]
	return &ir.Frame{DType: src.DType, Shape: ir.Shape{s.RowEnd - s.RowStart, src.Shape[1]}, Data: data}, nil
}
