package partition

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/splitup/splitup/ir"
)

// randomGraph builds a random DAG of about n ops over one input: matmuls
// (some sharing a weight), relus and adds of earlier values.
func randomGraph(r *rand.Rand, n int) *ir.Graph {
	b := ir.NewBuilder()
	vals := []ir.Ref{b.Input("x", ir.F32, ir.Shape{8})}
	var weights []ir.Ref
	for k := 0; k < n; k++ {
		v := vals[len(vals)-1-r.IntN(min(len(vals), 4))]
		var out ir.Ref
		switch r.IntN(5) {
		case 0, 1:
			out = b.MatMul(v, weightFor(b, r, &weights, b.Shape(v)[0], k))
		case 2:
			out = b.Relu(v)
		default:
			out = b.Relu(v)
			for _, u := range vals {
				if u != v && b.Shape(u).Equal(b.Shape(v)) {
					out = b.Add(v, u)
					break
				}
			}
		}
		vals = append(vals, out)
	}
	b.Output("out", vals[len(vals)-1])
	if n > 3 && r.IntN(2) == 0 {
		b.Output("side", vals[1+r.IntN(len(vals)-2)])
	}
	g, err := b.Build()
	if err != nil {
		panic(err)
	}
	return g
}

// weightFor returns a weight of width k: an earlier one, sometimes.
func weightFor(b *ir.Builder, r *rand.Rand, ws *[]ir.Ref, k, i int) ir.Ref {
	for _, w := range *ws {
		if s := b.Shape(w); s[1] == k && r.IntN(3) == 0 {
			return w
		}
	}
	rows := []int{4, 8, 16, 32}[r.IntN(4)]
	w := b.Weight(fmt.Sprintf("w%d", i), ir.F32, ir.Shape{rows, k})
	*ws = append(*ws, w)
	return w
}

// refCost is a direct reading of the cost model for a task running ops
// in the given order: it returns its VRAM and incoming cut bytes per row.
func refCost(g *ir.Graph, c CostModel, ops []int) (vram, cut int64) {
	in := map[int]int{}
	for k, i := range ops {
		in[i] = k
	}
	outs := map[int]bool{}
	for _, o := range g.Outputs {
		outs[o.Tensor] = true
	}
	counted := map[int]bool{}
	var fixed, ext, scratch int64
	lastIn := map[int]int{} // op -> last index in ops that reads it, or len(ops) if read outside
	for k, i := range ops {
		lastIn[i] = k
		if outs[i] {
			lastIn[i] = len(ops)
		}
		for _, x := range g.Tensors[i].Args {
			if k2, ok := in[x]; ok {
				lastIn[x] = max(lastIn[x], k)
				_ = k2
				continue
			}
			if counted[x] {
				continue
			}
			counted[x] = true
			switch t := &g.Tensors[x]; t.Kind {
			case ir.KindWeight:
				fixed += g.Bytes(x)
			case ir.KindState:
				fixed += c.StateBytes(t)
			case ir.KindInput:
				ext += g.Bytes(x)
			default:
				ext += g.Bytes(x)
				cut += g.Bytes(x)
			}
		}
	}
	for j := range g.Tensors {
		for _, x := range g.Tensors[j].Args {
			if _, inside := in[j]; !inside {
				if _, ok := in[x]; ok {
					lastIn[x] = len(ops)
				}
			}
		}
	}
	var peak int64
	for k := range ops {
		var live int64
		for k2 := 0; k2 <= k; k2++ {
			if lastIn[ops[k2]] >= k {
				live += g.Bytes(ops[k2])
			}
		}
		peak = max(peak, live)
		scratch = max(scratch, c.opScratch(g, ops[k]))
	}
	return c.TaskOverhead + fixed + c.chunk()*(ext+peak+scratch), cut
}

// checkPlan asserts the invariants of every plan: tasks within budget as
// the reference cost reads them, every op in exactly one task, a task DAG
// whose edges point forward and whose levels respect them, subgraphs that
// verify, and ports that match across each edge.
func checkPlan(t *testing.T, p *Plan) {
	t.Helper()
	seen := map[int]int{}
	outs := map[string]Port{}
	producer := map[string]int{}
	for id, task := range p.Tasks {
		if task.ID != id {
			t.Fatalf("task %d has ID %d", id, task.ID)
		}
		v, _ := refCost(p.Graph, p.Cost, task.Ops)
		if v != task.VRAM || v > p.Budget {
			t.Fatalf("task %d: VRAM %d, reference %d, budget %d", id, task.VRAM, v, p.Budget)
		}
		for _, i := range task.Ops {
			if prev, dup := seen[i]; dup {
				t.Fatalf("op %d in tasks %d and %d", i, prev, id)
			}
			seen[i] = id
		}
		if err := task.Graph.Verify(); err != nil {
			t.Fatalf("task %d subgraph: %v", id, err)
		}
		for _, o := range task.Outputs {
			outs[o.Name], producer[o.Name] = o, id
		}
	}
	for i := range p.Graph.Tensors {
		if _, ok := seen[i]; p.Graph.Tensors[i].Kind == ir.KindValue && !ok {
			t.Fatalf("op %d is in no task", i)
		}
	}
	for _, task := range p.Tasks {
		for _, in := range task.Inputs {
			if in.Model {
				continue
			}
			o, ok := outs[in.Name]
			if !ok || !o.Shape.Equal(in.Shape) || o.DType != in.DType || producer[in.Name] >= task.ID {
				t.Fatalf("task %d input %q has no matching earlier output (%v)", task.ID, in.Name, o)
			}
			if p.Tasks[producer[in.Name]].Level >= task.Level {
				t.Fatalf("task %d level %d not above producer's", task.ID, task.Level)
			}
		}
	}
	for _, e := range p.Edges {
		if e.From >= e.To {
			t.Fatalf("edge %d->%d points backwards", e.From, e.To)
		}
	}
}

// bruteForce returns the best (tasks, cut bytes) over all partitions of
// g's ops into tasks whose quotient graph is acyclic, each within budget.
func bruteForce(g *ir.Graph, c CostModel, budget int64) (int, int64) {
	// Each task runs its ops in the planner's order, so that peaks of live
	// activations are comparable.
	a, err := newAnalysis(g, c)
	if err != nil {
		panic(err)
	}
	ops := a.ops
	n := len(ops)
	label := make([]int, n)
	bestT, bestC := n+1, int64(0)
	var rec func(k, blocks int)
	rec = func(k, blocks int) {
		if blocks > bestT {
			return
		}
		if k == n {
			if tasks, cut, ok := evalPartition(g, c, budget, ops, label, blocks); ok &&
				(tasks < bestT || tasks == bestT && cut < bestC) {
				bestT, bestC = tasks, cut
			}
			return
		}
		for b := 0; b <= blocks; b++ {
			label[k] = b
			rec(k+1, max(blocks, b+1))
		}
	}
	rec(0, 0)
	return bestT, bestC
}

func evalPartition(g *ir.Graph, c CostModel, budget int64, ops, label []int, blocks int) (int, int64, bool) {
	task := map[int]int{}
	groups := make([][]int, blocks)
	for k, i := range ops {
		task[i] = label[k]
		groups[label[k]] = append(groups[label[k]], i)
	}
	var cut int64
	for _, grp := range groups {
		v, cu := refCost(g, c, grp)
		if v > budget {
			return 0, 0, false
		}
		cut += cu
	}
	// acyclic quotient: repeatedly remove tasks with no incoming edge
	indeg := make([]int, blocks)
	adj := map[[2]int]bool{}
	for _, i := range ops {
		for _, x := range g.Tensors[i].Args {
			if tx, ok := task[x]; ok && tx != task[i] && !adj[[2]int{tx, task[i]}] {
				adj[[2]int{tx, task[i]}] = true
				indeg[task[i]]++
			}
		}
	}
	done := 0
	for changed := true; changed; {
		changed = false
		for b := 0; b < blocks; b++ {
			if indeg[b] == 0 {
				indeg[b] = -1
				done++
				changed = true
				for e := range adj {
					if e[0] == b {
						indeg[e[1]]--
					}
				}
			}
		}
	}
	return blocks, cut, done == blocks
}

// maxSingle returns the largest VRAM any single op needs.
func maxSingle(g *ir.Graph, c CostModel) int64 {
	var m int64
	for i := range g.Tensors {
		if g.Tensors[i].Kind == ir.KindValue {
			v, _ := refCost(g, c, []int{i})
			m = max(m, v)
		}
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
