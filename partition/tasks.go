package partition

import (
	"fmt"
	"sort"

	"github.com/splitup/splitup/ir"
)

// fill turns solved position ranges into p's tasks, edges and subgraphs.
func (a *analysis) fill(p *Plan, ranges [][2]int) error {
	sort.Slice(ranges, func(x, y int) bool { return ranges[x][0] < ranges[y][0] })
	owner := make([]int, len(a.ops))
	for id, r := range ranges {
		for q := r[0]; q < r[1]; q++ {
			owner[q] = id
		}
	}
	names := a.cutNames()
	edges := map[[2]int]*Edge{}
	for id, r := range ranges {
		t := a.task(id, r, names)
		for _, in := range t.Inputs {
			if in.Model {
				continue
			}
			from := owner[a.pos[in.Tensor]]
			e := edges[[2]int{from, id}]
			if e == nil {
				e = &Edge{From: from, To: id}
				edges[[2]int{from, id}] = e
			}
			e.Names = append(e.Names, in.Name)
			e.BytesPerToken += in.Bytes()
			t.Level = max(t.Level, p.Tasks[from].Level+1)
		}
		g, err := a.subgraph(&t, names)
		if err != nil {
			return fmt.Errorf("partition: task %d: %w", id, err)
		}
		t.Graph = g
		p.Tasks = append(p.Tasks, t)
	}
	for _, e := range edges {
		p.Edges = append(p.Edges, *e)
		p.CutBytes += e.BytesPerToken
	}
	sort.Slice(p.Edges, func(x, y int) bool {
		ex, ey := p.Edges[x], p.Edges[y]
		return ex.From < ey.From || (ex.From == ey.From && ex.To < ey.To)
	})
	return nil
}

// cutNames names every batched tensor: its own name, or "v<index>" made
// unique against all tensor and output names.
func (a *analysis) cutNames() []string {
	used := map[string]bool{}
	for i := range a.g.Tensors {
		used[a.g.Tensors[i].Name] = true
	}
	for _, o := range a.g.Outputs {
		used[o.Name] = true
	}
	names := make([]string, len(a.g.Tensors))
	for i := range a.g.Tensors {
		t := &a.g.Tensors[i]
		if t.Name != "" || !t.Kind.Batched() {
			names[i] = t.Name
			continue
		}
		n := fmt.Sprintf("v%d", i)
		for used[n] {
			n += "_"
		}
		used[n] = true
		names[i] = n
	}
	return names
}

// task describes the ops at positions r as a Task (without Level's
// upstream part, Graph).
func (a *analysis) task(id int, r [2]int, names []string) Task {
	t := Task{ID: id, Ops: append([]int(nil), a.ops[r[0]:r[1]]...)}
	s := a.begin(r[0])
	for s.end < r[1] {
		s.add()
	}
	t.WeightBytes, t.KVBytes, t.ActivationBytes = s.weights, s.states, s.activations()
	t.VRAM, t.ComputeUnits = s.vram(), s.flops
	seen := map[int]bool{}
	for _, i := range t.Ops {
		for _, x := range a.g.Tensors[i].Args {
			xt := &a.g.Tensors[x]
			if seen[x] || (xt.Kind == ir.KindValue && a.pos[x] >= r[0]) {
				continue
			}
			seen[x] = true
			switch xt.Kind {
			case ir.KindWeight:
				t.Weights = append(t.Weights, xt.Name)
			case ir.KindState:
				t.States = append(t.States, xt.Name)
			default:
				t.Inputs = append(t.Inputs, a.port(x, names[x], xt.Kind == ir.KindInput))
			}
		}
	}
	t.Outputs = a.outputs(r, names)
	return t
}

func (a *analysis) port(x int, name string, model bool) Port {
	t := &a.g.Tensors[x]
	return Port{Name: name, Shape: t.Shape.Clone(), DType: t.DType, Tensor: x, Model: model}
}

// outputs lists what the ops at positions r send: values read outside r,
// then the graph outputs among them, in position order.
func (a *analysis) outputs(r [2]int, names []string) []Port {
	var out []Port
	for q := r[0]; q < r[1]; q++ {
		i := a.ops[q]
		sent := false
		for _, c := range a.consumers[i] {
			if p := a.pos[c]; p < r[0] || p >= r[1] {
				sent = true
				break
			}
		}
		if sent {
			out = append(out, a.port(i, names[i], false))
		}
		for _, o := range a.g.Outputs {
			if o.Tensor == i && !(sent && o.Name == names[i]) {
				out = append(out, a.port(i, o.Name, true))
			}
		}
	}
	return out
}

// subgraph builds the task's own graph over its ports.
func (a *analysis) subgraph(t *Task, names []string) (*ir.Graph, error) {
	b := ir.NewBuilder()
	refs := map[int]ir.Ref{}
	for _, in := range t.Inputs {
		refs[in.Tensor] = b.Input(in.Name, in.DType, in.Shape)
	}
	for _, i := range t.Ops {
		src := &a.g.Tensors[i]
		args := make([]ir.Ref, len(src.Args))
		for k, x := range src.Args {
			r, ok := refs[x]
			if !ok {
				r = leaf(b, &a.g.Tensors[x])
				refs[x] = r
			}
			args[k] = r
		}
		refs[i] = emit(b, src, args)
		if src.Name != "" {
			b.Name(refs[i], src.Name)
		}
	}
	for _, o := range t.Outputs {
		if !o.Model && a.g.Tensors[o.Tensor].Name == "" {
			b.Name(refs[o.Tensor], o.Name)
		}
		b.Output(o.Name, refs[o.Tensor])
	}
	if len(t.Outputs) == 0 { // only dead ops: expose the last so the graph verifies
		last := t.Ops[len(t.Ops)-1]
		t.Outputs = []Port{a.port(last, names[last], false)}
		b.Output(names[last], refs[last])
	}
	return b.Build()
}
