package deploy

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/partition"
)

// ErrModel is wrapped by errors about a model that cannot be deployed as
// given (missing weights, a graph without inputs or outputs, a name or a
// task the chain would refuse).
var ErrModel = errors.New("model cannot be deployed")

// maxComputeUnits is the largest compute-unit count the chain accepts for
// one task (contract: 1..2^40).
const maxComputeUnits = int64(1) << 40

// maxNameBytes is the longest string the chain accepts in a message field.
const maxNameBytes = 256

// Deployment is a prepared model: its plan, the hash of each task's shard,
// the model card and the RegisterModel message. It keeps the model's
// weights, not the shard bytes: Shard(i) rebuilds those on demand, so that
// preparing a large model does not hold a second copy of its weights.
type Deployment struct {
	// Plan is the partition the shards were cut from.
	Plan *partition.Plan
	// Tasks has one entry per plan task, in plan order.
	Tasks []TaskShard
	// Msg is the RegisterModel message; Msg.Tasks[i] describes Plan.Tasks[i].
	Msg contract.RegisterModel
	// ID is Msg.ModelID(): the id the chain gives the model.
	ID contract.Hash
	// Card is the encoded model card (see Card).
	Card []byte
	// CardHash is the SHA-256 of Card: the blob gateways fetch it by.
	CardHash contract.Hash

	weights map[string]*ir.Frame
	split   map[string]partition.Shard
}

// TaskShard is the shard of one task.
type TaskShard struct {
	// Task is the index into Plan.Tasks and Msg.Tasks.
	Task int
	// Hash is the SHA-256 of the encoded shard: its content address.
	Hash contract.Hash
	// Size is the encoded shard's length in bytes.
	Size int64
}

// Prepare plans m for tasks of at most budget bytes under cost, builds and
// hashes every task's shard, and builds the model card and the RegisterModel
// message. When cost.Context is set and differs from the model's context,
// the graph is rebuilt with KV caches of that length, so that the shards
// hold what the VRAM figures count. Prepare does no I/O.
func Prepare(m *models.Model, budget int64, cost partition.CostModel) (*Deployment, error) {
	return PrepareConfig(m, partition.Config{Budget: budget, Cost: cost})
}

// PrepareConfig is Prepare with every partition setting (MergeBranches
// included).
func PrepareConfig(m *models.Model, cfg partition.Config) (*Deployment, error) {
	cost := cfg.Cost
	g, err := graphFor(m, cost.Context)
	if err != nil {
		return nil, err
	}
	plan, err := partition.Partition(g, cfg)
	if err != nil {
		return nil, fmt.Errorf("deploy: plan: %w", err)
	}
	d := &Deployment{Plan: plan, weights: m.Weights, split: map[string]partition.Shard{}}
	for _, s := range plan.Shards {
		d.split[s.Name] = s
	}
	d.Msg = contract.RegisterModel{Name: modelName(m), GraphHash: plan.Graph.Hash()}
	if len(d.Msg.Name) > maxNameBytes {
		return nil, fmt.Errorf("deploy: %w: name %q is longer than %d bytes", ErrModel, d.Msg.Name, maxNameBytes)
	}
	if d.Msg.Inputs, d.Msg.Outputs, err = modelPorts(plan.Graph); err != nil {
		return nil, err
	}
	for i := range plan.Tasks {
		ts, spec, err := d.buildTask(i)
		if err != nil {
			return nil, err
		}
		d.Tasks = append(d.Tasks, ts)
		d.Msg.Tasks = append(d.Msg.Tasks, spec)
	}
	d.ID = d.Msg.ModelID()
	if d.Card, err = newCard(m, d, cost.Context).Encode(); err != nil {
		return nil, fmt.Errorf("deploy: model card: %w", err)
	}
	d.CardHash = contract.Hash(shard.Hash(d.Card))
	return d, nil
}

// graphFor returns m's graph, rebuilt for a KV cache of context tokens when
// context is set and differs from the model's.
func graphFor(m *models.Model, context int) (*ir.Graph, error) {
	if m.Graph == nil {
		return nil, fmt.Errorf("deploy: %w: it has no graph", ErrModel)
	}
	if context == 0 || context == m.Config.Context {
		return m.Graph, nil
	}
	c := m.Config
	c.Context = context
	g, err := llama.Build(c, func(name string) ir.DType {
		if w, ok := m.Weights[name]; ok {
			return w.DType
		}
		return ir.F32
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: rebuild the graph for a context of %d tokens: %w", context, err)
	}
	if !sameWeights(g, m.Graph) {
		return nil, fmt.Errorf("deploy: %w: its graph is not the LLaMA graph of its config, so the context cannot be changed; deploy it with its own context (%d)", ErrModel, m.Config.Context)
	}
	return g, nil
}

// sameWeights reports whether a and b declare the same weights.
func sameWeights(a, b *ir.Graph) bool {
	wa, wb := a.OfKind(ir.KindWeight), b.OfKind(ir.KindWeight)
	if len(wa) != len(wb) {
		return false
	}
	for k := range wa {
		x, y := &a.Tensors[wa[k]], &b.Tensors[wb[k]]
		if x.Name != y.Name || x.DType != y.DType || !x.Shape.Equal(y.Shape) {
			return false
		}
	}
	return true
}

// modelName is the model's own name, else its file name without extension.
func modelName(m *models.Model) string {
	if m.Name != "" {
		return m.Name
	}
	if m.Path != "" {
		base := filepath.Base(m.Path)
		if n := strings.TrimSuffix(base, filepath.Ext(base)); n != "" && n != "." {
			return n
		}
	}
	return "model"
}

// modelPorts returns the specs of g's inputs and outputs.
func modelPorts(g *ir.Graph) (ins, outs []contract.TensorSpec, err error) {
	for _, i := range g.OfKind(ir.KindInput) {
		t := &g.Tensors[i]
		ins = append(ins, Spec(t.Name, t.DType, t.Shape))
	}
	for _, o := range g.Outputs {
		t := &g.Tensors[o.Tensor]
		outs = append(outs, Spec(o.Name, t.DType, t.Shape))
	}
	if len(ins) == 0 || len(outs) == 0 {
		return nil, nil, fmt.Errorf("deploy: %w: the graph needs inputs and outputs", ErrModel)
	}
	return ins, outs, nil
}

// Spec returns the contract form of a batched tensor interface: the row
// dimension first as -1 (dynamic: one row per token), then the per-row
// shape. Both ends of every cut use it, so producer and consumer specs are
// equal as the chain requires.
func Spec(name string, dt ir.DType, perRow ir.Shape) contract.TensorSpec {
	s := make([]int64, 0, len(perRow)+1)
	s = append(s, -1)
	for _, d := range perRow {
		s = append(s, int64(d))
	}
	return contract.TensorSpec{Name: name, Shape: s, DType: dt.String()}
}

func portSpecs(ps []partition.Port) []contract.TensorSpec {
	out := make([]contract.TensorSpec, len(ps))
	for i, p := range ps {
		out[i] = Spec(p.Name, p.DType, p.Shape)
	}
	return out
}

// TaskName is the name task i has on chain.
func TaskName(i int) string { return fmt.Sprintf("task%d", i) }

// buildTask encodes and hashes task i's shard and describes the task.
func (d *Deployment) buildTask(i int) (TaskShard, contract.TaskSpec, error) {
	t := &d.Plan.Tasks[i]
	b, err := d.encode(i)
	if err != nil {
		return TaskShard{}, contract.TaskSpec{}, err
	}
	if t.ComputeUnits > maxComputeUnits {
		return TaskShard{}, contract.TaskSpec{}, fmt.Errorf("deploy: %w: task %d needs %d compute units per token, the chain takes at most %d: lower the target VRAM",
			ErrModel, i, t.ComputeUnits, maxComputeUnits)
	}
	ts := TaskShard{Task: i, Hash: contract.Hash(shard.Hash(b)), Size: int64(len(b))}
	spec := contract.TaskSpec{
		Name:         TaskName(i),
		Inputs:       portSpecs(t.Inputs),
		Outputs:      portSpecs(t.Outputs),
		VRAMBytes:    uint64(max(t.VRAM, 1)),
		ComputeUnits: uint64(max(t.ComputeUnits, 1)), // the chain refuses 0; data-movement tasks cost ~nothing
		Shards:       []contract.Hash{ts.Hash},
	}
	return ts, spec, nil
}

// Weights binds weight names to frames. It implements exec.Weights and
// what shard.Encode reads.
type Weights map[string]*ir.Frame

// Weight returns the named weight.
func (w Weights) Weight(name string) (*ir.Frame, bool) {
	f, ok := w[name]
	return f, ok
}

// Weights returns exactly the weights task i's graph declares: the model's
// own, or row slices of them for weights made by splitting a MatMul (rows
// [RowStart, RowEnd) of the source, row-major, a row being Shape[1]
// elements in the dtype's block layout). Slices share the model's memory.
func (d *Deployment) Weights(i int) (Weights, error) {
	if i < 0 || i >= len(d.Plan.Tasks) {
		return nil, fmt.Errorf("deploy: no task %d (the plan has %d)", i, len(d.Plan.Tasks))
	}
	g := d.Plan.Tasks[i].Graph
	w := Weights{}
	for _, k := range g.OfKind(ir.KindWeight) {
		name := g.Tensors[k].Name
		f, err := d.weight(name)
		if err != nil {
			return nil, fmt.Errorf("deploy: task %d: %w", i, err)
		}
		w[name] = f
	}
	return w, nil
}

// weight returns the frame bound to weight name.
func (d *Deployment) weight(name string) (*ir.Frame, error) {
	if f, ok := d.weights[name]; ok {
		return f, nil
	}
	s, ok := d.split[name]
	if !ok {
		return nil, fmt.Errorf("%w: weight %q is missing", ErrModel, name)
	}
	src, ok := d.weights[s.Source]
	if !ok {
		return nil, fmt.Errorf("%w: weight %q (rows of %q) is missing", ErrModel, name, s.Source)
	}
	return s.Slice(src)
}

// encode builds task i's shard.
func (d *Deployment) encode(i int) ([]byte, error) {
	w, err := d.Weights(i)
	if err != nil {
		return nil, err
	}
	b, err := shard.Encode(d.Plan.Tasks[i].Graph, w)
	if err != nil {
		return nil, fmt.Errorf("deploy: task %d: %w", i, err)
	}
	return b, nil
}

// ErrChanged is returned by Shard when a rebuilt shard no longer has the
// hash Prepare computed: the model's weights were modified in between.
var ErrChanged = errors.New("shard changed since Prepare (the model's weights were modified)")

// Shard returns the bytes of task i's shard, rebuilt from the model's
// weights and checked against Tasks[i].Hash.
func (d *Deployment) Shard(i int) ([]byte, error) {
	if i < 0 || i >= len(d.Tasks) {
		return nil, fmt.Errorf("deploy: no task %d (the plan has %d)", i, len(d.Tasks))
	}
	b, err := d.encode(i)
	if err != nil {
		return nil, err
	}
	if contract.Hash(shard.Hash(b)) != d.Tasks[i].Hash {
		return nil, fmt.Errorf("deploy: task %d: %w", i, ErrChanged)
	}
	return b, nil
}

// Blobs returns the hashes of every blob Publish stores: the task shards
// in plan order, then the model card.
func (d *Deployment) Blobs() []contract.Hash {
	out := make([]contract.Hash, 0, len(d.Tasks)+1)
	for _, t := range d.Tasks {
		out = append(out, t.Hash)
	}
	return append(out, d.CardHash)
}
