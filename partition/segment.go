package partition

import "github.com/splitup/splitup/ir"

// analysis holds what planning needs to know about a graph, indexed by
// tensor and by position in the planning order (a topological order of the
// ops in which every parallel branch is contiguous).
type analysis struct {
	g     *ir.Graph
	cost  CostModel
	chunk int64

	consumers [][]int // tensor -> op tensors that read it (once per op)
	isOutput  []bool  // tensor -> is a graph output
	rowBytes  []int64 // tensor -> bytes per row (batched kinds)
	fixed     []int64 // tensor -> bytes of a weight or state

	ops   []int     // position -> op tensor
	pos   []int     // tensor -> position, -1 for non-ops
	last  []int     // position -> last position that needs its value
	dieAt [][]int32 // position -> positions whose value dies after it
	tree  *level    // the series/parallel structure over positions

	stamp []int32 // tensor -> epoch of the segment that counted it
	epoch int32
	local []int32 // tensor -> index in the list being decomposed, or -1
}

func newAnalysis(g *ir.Graph, c CostModel) (*analysis, error) {
	a := &analysis{g: g, cost: c, chunk: c.chunk()}
	n := len(g.Tensors)
	a.consumers = make([][]int, n)
	a.isOutput = make([]bool, n)
	a.rowBytes = make([]int64, n)
	a.fixed = make([]int64, n)
	a.stamp = make([]int32, n)
	for i := range g.Tensors {
		t := &g.Tensors[i]
		switch t.Kind {
		case ir.KindWeight:
			a.fixed[i] = g.Bytes(i)
		case ir.KindState:
			a.fixed[i] = c.StateBytes(t)
		default:
			a.rowBytes[i] = g.Bytes(i)
		}
		for k, x := range t.Args {
			if !contains(t.Args[:k], x) {
				a.consumers[x] = append(a.consumers[x], i)
			}
		}
	}
	for _, o := range g.Outputs {
		a.isOutput[o.Tensor] = true
	}
	topo, err := g.Order()
	if err != nil {
		return nil, err
	}
	var ops []int
	for _, i := range topo {
		if g.Tensors[i].Kind == ir.KindValue {
			ops = append(ops, i)
		}
	}
	var order []int
	a.tree = flatten(a.decompose(ops), &order)
	a.place(order)
	return a, nil
}

func contains(s []int, x int) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// place fixes the planning order and derives positions and lifetimes.
func (a *analysis) place(ops []int) {
	a.ops = ops
	a.pos = make([]int, len(a.g.Tensors))
	for i := range a.pos {
		a.pos[i] = -1
	}
	for p, i := range ops {
		a.pos[i] = p
	}
	n := len(ops)
	a.last = make([]int, n)
	a.dieAt = make([][]int32, n)
	for p, i := range ops {
		l := p
		for _, c := range a.consumers[i] {
			l = max(l, a.pos[c])
		}
		if a.isOutput[i] {
			l = n
		}
		a.last[p] = l
		if l < n {
			a.dieAt[l] = append(a.dieAt[l], int32(p))
		}
	}
}

// segment accumulates the cost of the ops at positions [start, end) of the
// planning order, one position at a time.
type segment struct {
	a          *analysis
	start, end int
	weights    int64 // distinct weight bytes
	states     int64 // distinct state bytes
	ext        int64 // bytes per row of distinct operands produced outside
	cut        int64 // the part of ext produced by other tasks (not model inputs)
	live       int64 // bytes per row of values produced inside, live now
	peak       int64 // max of live
	scratch    int64 // max scratch per row
	flops      int64 // per row
}

// begin starts an empty segment at position start.
func (a *analysis) begin(start int) segment {
	a.epoch++
	return segment{a: a, start: start, end: start}
}

// add appends the op at position s.end.
func (s *segment) add() {
	a, p := s.a, s.end
	i := a.ops[p]
	t := &a.g.Tensors[i]
	for _, x := range t.Args {
		if a.stamp[x] == a.epoch {
			continue
		}
		switch k := a.g.Tensors[x].Kind; {
		case k == ir.KindWeight:
			s.weights += a.fixed[x]
		case k == ir.KindState:
			s.states += a.fixed[x]
		case k == ir.KindInput:
			s.ext += a.rowBytes[x]
		case a.pos[x] < s.start:
			s.ext += a.rowBytes[x]
			s.cut += a.rowBytes[x]
		default:
			continue // produced inside: counted in live
		}
		a.stamp[x] = a.epoch
	}
	s.live += a.rowBytes[i]
	s.peak = max(s.peak, s.live)
	s.scratch = max(s.scratch, a.cost.opScratch(a.g, i))
	s.flops += a.cost.OpFLOPs(a.g, i)
	for _, q := range a.dieAt[p] {
		if int(q) >= s.start {
			s.live -= a.rowBytes[a.ops[q]]
		}
	}
	s.end++
}

// activations returns the peak bytes of activations for a prefill chunk.
func (s *segment) activations() int64 {
	return s.a.chunk * (s.ext + s.peak + s.scratch)
}

// vram returns the memory the segment's task needs.
func (s *segment) vram() int64 {
	return s.a.cost.TaskOverhead + s.weights + s.states + s.activations()
}
