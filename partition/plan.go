package partition

import (
	"errors"
	"fmt"

	"github.com/splitup/splitup/ir"
)

// ErrBudget is wrapped by errors about a budget that is not positive or
// leaves nothing after the per-task overhead.
var ErrBudget = errors.New("invalid budget")

// Plan is a partition of a graph into tasks that each fit a memory budget.
type Plan struct {
	// Graph is the partitioned graph: the input graph, or a rewrite of it
	// in which oversize MatMuls are split by output rows (see Shards).
	Graph *ir.Graph
	// Cost is the cost model the plan was made with.
	Cost CostModel
	// Budget is the memory each task may use, in bytes.
	Budget int64
	// TotalBytes is the weight and state bytes of the graph, each counted once.
	TotalBytes int64
	// LowerBound is ⌈TotalBytes / (Budget − TaskOverhead)⌉: no plan has
	// fewer tasks.
	LowerBound int
	// CutBytes is the bytes per token crossing between tasks (sum of Edges).
	CutBytes int64
	// Tasks are in a topological order; Task.ID is the index. A graph
	// output that is a model input is produced by no task.
	Tasks []Task
	// Edges are the task DAG, sorted by (From, To).
	Edges []Edge
	// Shards are the weights made by splitting ops, in graph order.
	Shards []Shard
}

// Task is one unit of work: a convex set of ops with its own subgraph.
type Task struct {
	// ID is the task's index in Plan.Tasks.
	ID int
	// Level is the length of the longest path of tasks before this one.
	// Tasks of equal level never depend on each other and may run in
	// parallel once the lower levels are done.
	Level int
	// Ops are the op tensors (indices into Plan.Graph) in execution order.
	Ops []int
	// Weights and States name the weights and states the task binds.
	Weights, States []string
	// VRAM is the memory the task needs, in bytes: TaskOverhead +
	// WeightBytes + KVBytes + ActivationBytes.
	VRAM int64
	// WeightBytes is the size of its weights; a weight two tasks use
	// counts in both.
	WeightBytes int64
	// KVBytes is the size of its states for the plan's context.
	KVBytes int64
	// ActivationBytes is the peak of live activations (and op scratch)
	// for one prefill chunk.
	ActivationBytes int64
	// ComputeUnits is the FLOPs of one decoded token.
	ComputeUnits int64
	// Inputs are what the task receives each step: model inputs and the
	// outputs of upstream tasks, in order of first use.
	Inputs []Port
	// Outputs are what it sends: values downstream tasks read and the
	// graph's outputs it produces, in execution order.
	Outputs []Port
	// Graph is the task's subgraph: Inputs as inputs, Outputs as outputs.
	Graph *ir.Graph
}

// Port is one tensor interface of a task at a cut, per row (token).
type Port struct {
	// Name is the tensor's name; the same on both sides of a cut.
	Name string
	// Shape is the per-row shape.
	Shape ir.Shape
	// DType is the element type.
	DType ir.DType
	// Tensor is the tensor's index in Plan.Graph.
	Tensor int
	// Model is true for model inputs (tokens, positions) and graph outputs.
	Model bool
}

// Bytes returns the size of one row of p.
func (p Port) Bytes() int64 {
	n, _ := p.DType.Bytes(p.Shape.Elems())
	return n
}

// Edge says that task To reads values task From produces.
type Edge struct {
	// From is the producing task.
	From int
	// To is the consuming task.
	To int
	// Names are the values that cross, in position order.
	Names []string
	// BytesPerToken is their size per decoded token.
	BytesPerToken int64
}

// Config is what Partition plans for.
type Config struct {
	// Budget is the memory one task may use, in bytes (the target VRAM).
	Budget int64
	// Cost is the cost model.
	Cost CostModel
	// MergeBranches lets a task hold parts of independent branches when
	// that saves tasks or traffic; those branches then no longer run in
	// parallel. By default a block of independent branches is either
	// inside one task or split so that no task holds two of its branches.
	MergeBranches bool
}

// Validate reports a bad cost model or a budget that leaves nothing
// after the per-task overhead.
func (c Config) Validate() error {
	if err := c.Cost.Validate(); err != nil {
		return err
	}
	if c.Budget <= c.Cost.TaskOverhead {
		return fmt.Errorf("%w: %d bytes must exceed the task overhead of %d bytes", ErrBudget, c.Budget, c.Cost.TaskOverhead)
	}
	return nil
}

// Partition cuts g into the fewest tasks that each fit cfg.Budget, then
// the fewest bytes crossing between tasks per token, then the most even
// sizes. Independent branches stay in separate tasks (see
// Config.MergeBranches). MatMuls that do not fit alone are split by output
// rows; any other op that does not fit yields an *OpTooLargeError.
func Partition(g *ir.Graph, cfg Config) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := g.Verify(); err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	a, p, err := prepare(g, cfg)
	if err != nil {
		return nil, err
	}
	tree := a.tree
	if cfg.MergeBranches {
		tree = &level{lo: 0, hi: len(a.ops), bounds: seq(len(a.ops) + 1)}
	}
	sol, ok := a.solve(tree, cfg.Budget)
	if !ok {
		panic("partition: no plan although every op fits alone")
	}
	usable := cfg.Budget - cfg.Cost.TaskOverhead
	p.TotalBytes = a.totalBytes()
	p.LowerBound = int(max(1, (p.TotalBytes+usable-1)/usable))
	if err := a.fill(p, sol.ranges); err != nil {
		return nil, err
	}
	return p, nil
}

// prepare analyses g and, when some MatMuls do not fit alone, rewrites it
// with those split; it fails when another op does not fit alone.
func prepare(g *ir.Graph, cfg Config) (*analysis, *Plan, error) {
	a, err := newAnalysis(g, cfg.Cost)
	if err != nil {
		return nil, nil, err
	}
	split, err := a.oversize(cfg.Budget)
	if err != nil {
		return nil, nil, err
	}
	p := &Plan{Graph: g, Cost: cfg.Cost, Budget: cfg.Budget}
	if len(split) == 0 {
		return a, p, nil
	}
	if p.Graph, p.Shards, err = splitOps(g, split); err != nil {
		return nil, nil, err
	}
	if a, err = newAnalysis(p.Graph, cfg.Cost); err != nil {
		return nil, nil, err
	}
	if _, err = a.oversize(cfg.Budget); err != nil {
		return nil, nil, err
	}
	return a, p, nil
}

// totalBytes sums the weights and states that ops use, each once.
func (a *analysis) totalBytes() int64 {
	var n int64
	for i := range a.g.Tensors {
		if a.fixed[i] > 0 && len(a.consumers[i]) > 0 {
			n += a.fixed[i]
		}
	}
	return n
}

// Stages groups task IDs by Level: the tasks of a stage may run in parallel.
func (p *Plan) Stages() [][]int {
	var out [][]int
	for _, t := range p.Tasks {
		for len(out) <= t.Level {
			out = append(out, nil)
		}
		out[t.Level] = append(out[t.Level], t.ID)
	}
	return out
}

// Imbalance returns the largest task's VRAM over the mean (1 = even).
func (p *Plan) Imbalance() float64 {
	var sum, top int64
	for _, t := range p.Tasks {
		sum += t.VRAM
		top = max(top, t.VRAM)
	}
	if sum == 0 {
		return 1
	}
	return float64(top) * float64(len(p.Tasks)) / float64(sum)
}
