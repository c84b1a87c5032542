package contract

import (
	"fmt"
	"slices"
)

// model is a registered model plus the derived DAG (recomputed on load).
type model struct {
	ID     Hash
	Owner  Address
	Height int64
	Spec   RegisterModel
	dag    *dag
}

// dag is derived from a RegisterModel by validateModel.
type dag struct {
	order     []int          // tasks in topological order (smallest index first among ready ones)
	preds     [][]int        // preds[t]: tasks producing t's inputs, sorted
	producer  map[string]int // tensor name → producing task, -1 for a model input
	consumers map[string][]int
}

var validDTypes = []string{"f32", "f16", "bf16", "q8_0", "q4_0", "i32"}

func checkSpec(s TensorSpec) string {
	if s.Name == "" {
		return "tensor with empty name"
	}
	if !slices.Contains(validDTypes, s.DType) {
		return fmt.Sprintf("tensor %q: unknown dtype %q", s.Name, s.DType)
	}
	if len(s.Shape) > maxRank {
		return fmt.Sprintf("tensor %q: rank %d > %d", s.Name, len(s.Shape), maxRank)
	}
	for _, d := range s.Shape {
		if d < -1 || d == 0 || d > 1<<40 {
			return fmt.Sprintf("tensor %q: bad dim %d", s.Name, d)
		}
	}
	return ""
}

func sameSpec(a, b TensorSpec) bool { return a.DType == b.DType && slices.Equal(a.Shape, b.Shape) }

// validateModel checks a model and its task DAG; it returns the derived DAG,
// or a deterministic reason.
func validateModel(m *RegisterModel) (*dag, string) {
	if m.Name == "" || len(m.Inputs) == 0 || len(m.Outputs) == 0 || len(m.Tasks) == 0 {
		return nil, "model needs a name, inputs, outputs and tasks"
	}
	specs := map[string]TensorSpec{}
	g := &dag{producer: map[string]int{}, consumers: map[string][]int{}, preds: make([][]int, len(m.Tasks))}
	for _, in := range m.Inputs {
		if r := g.define(specs, in, -1); r != "" {
			return nil, r
		}
	}
	for i := range m.Tasks {
		if r := checkTaskFields(&m.Tasks[i]); r != "" {
			return nil, fmt.Sprintf("task %d: %s", i, r)
		}
		for _, out := range m.Tasks[i].Outputs {
			if r := g.define(specs, out, i); r != "" {
				return nil, fmt.Sprintf("task %d: %s", i, r)
			}
		}
	}
	for i := range m.Tasks {
		if r := g.link(specs, m.Tasks[i].Inputs, i); r != "" {
			return nil, fmt.Sprintf("task %d: %s", i, r)
		}
	}
	for _, out := range m.Outputs {
		p, ok := g.producer[out.Name]
		if !ok || p < 0 {
			return nil, fmt.Sprintf("model output %q is not produced by a task", out.Name)
		}
		if !sameSpec(specs[out.Name], out) {
			return nil, fmt.Sprintf("model output %q: dtype/shape differ from its producer", out.Name)
		}
	}
	if !g.sort(len(m.Tasks)) {
		return nil, "task graph has a cycle"
	}
	return g, ""
}

func checkTaskFields(t *TaskSpec) string {
	switch {
	case t.Name == "":
		return "empty name"
	case len(t.Outputs) == 0:
		return "no outputs"
	case t.VRAMBytes == 0 || t.VRAMBytes > 1<<50:
		return "vram_bytes must be 1..2^50"
	case t.ComputeUnits == 0 || t.ComputeUnits > 1<<40:
		return "compute_units must be 1..2^40"
	}
	return ""
}

// define records a tensor produced by task p (-1: model input).
func (g *dag) define(specs map[string]TensorSpec, s TensorSpec, p int) string {
	if r := checkSpec(s); r != "" {
		return r
	}
	if _, dup := specs[s.Name]; dup {
		return fmt.Sprintf("tensor %q is produced more than once", s.Name)
	}
	specs[s.Name] = s
	g.producer[s.Name] = p
	return ""
}

// link connects task t's inputs to their producers.
func (g *dag) link(specs map[string]TensorSpec, ins []TensorSpec, t int) string {
	seen := map[string]bool{}
	for _, in := range ins {
		if r := checkSpec(in); r != "" {
			return r
		}
		if seen[in.Name] {
			return fmt.Sprintf("input %q listed twice", in.Name)
		}
		seen[in.Name] = true
		p, ok := g.producer[in.Name]
		if !ok {
			return fmt.Sprintf("input %q is produced by no task output or model input", in.Name)
		}
		if !sameSpec(specs[in.Name], in) {
			return fmt.Sprintf("input %q: dtype/shape differ from its producer", in.Name)
		}
		if p == t {
			return fmt.Sprintf("input %q is its own output (cycle)", in.Name)
		}
		g.consumers[in.Name] = append(g.consumers[in.Name], t)
		if p >= 0 && !slices.Contains(g.preds[t], p) {
			g.preds[t] = append(g.preds[t], p)
		}
	}
	slices.Sort(g.preds[t])
	return ""
}

// sort computes a topological order (Kahn, smallest ready index first) and
// reports whether the graph is acyclic.
func (g *dag) sort(n int) bool {
	indeg := make([]int, n)
	succ := make([][]int, n)
	for t, ps := range g.preds {
		indeg[t] = len(ps)
		for _, p := range ps {
			succ[p] = append(succ[p], t)
		}
	}
	var ready []int
	for t := 0; t < n; t++ {
		if indeg[t] == 0 {
			ready = append(ready, t)
		}
	}
	for len(ready) > 0 {
		t := ready[0]
		ready = ready[1:]
		g.order = append(g.order, t)
		for _, c := range succ[t] {
			if indeg[c]--; indeg[c] == 0 {
				i, _ := slices.BinarySearch(ready, c)
				ready = slices.Insert(ready, i, c)
			}
		}
	}
	return len(g.order) == n
}

func (s *st) registerModel(c *txCtx, m *RegisterModel) TxResult {
	g, reason := validateModel(m)
	if reason != "" {
		return fail(CodeInvalidDAG, "register model: %s", reason)
	}
	id := modelID(m)
	if s.models[id] != nil {
		return fail(CodeExists, "register model: model %s already registered", id)
	}
	c.pay(s)
	s.models[id] = &model{ID: id, Owner: c.tx.Signer, Height: s.height, Spec: *m, dag: g}
	return ok(ev(EventModelRegistered, "model", id.String(), "name", m.Name, "tasks", itoa(len(m.Tasks))))
}
