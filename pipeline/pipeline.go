// Package pipeline is the client side of a distributed model: it runs one
// session's steps through the nodes assigned to the model's tasks, in task
// DAG order, with independent tasks in parallel, and survives the loss of a
// node by rebuilding the replacement's KV cache in one prefill pass.
//
// Using a session:
//
//  1. Describe the model's tasks (Task: inputs and outputs by name) and
//     provide a Resolver that names the node currently assigned to a task
//     and, when one fails, waits for its replacement (the chain reassigns).
//  2. Open a Session; each Forward(tokens, pos) sends "tokens" (and the
//     positions) to the tasks that read them, passes every task's outputs to
//     the tasks that read them, and returns the last row of "logits";
//     ForwardArgmax, for greedy decoding, returns only the index of its
//     largest value, which the node holding the logits picks. When the
//     tasks form a chain, the nodes pass the activations from stage to
//     stage themselves (relay.go) and each token crosses the network once
//     per stage plus once back.
//  3. When a node's stream breaks, the session reports it, opens a stream to
//     the replacement and replays that task's inputs so far as one batched
//     step (the kernels are batch invariant, so the cache is bit-identical):
//     the model inputs, which the session keeps, and the rows the upstream
//     tasks recorded, fetched from their nodes; then it repeats the current
//     step. The caller sees only a delay.
//  4. Close ends every node session (the nodes then commit their records).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/p2p"
)

// Tokens and Logits are the model's input and output names; "pos" travels
// as Step.Positions.
const (
	Tokens = "tokens"
	Pos    = "pos"
	Logits = "logits"
)

// Task is one task of the model as the pipeline sees it.
type Task struct {
	// ID is the task's index in the model.
	ID int
	// Inputs are the names the task reads (model inputs and upstream outputs).
	Inputs []string
	// Outputs are the names it produces.
	Outputs []string
}

// Resolver tells the session where each task runs.
type Resolver interface {
	// Peer returns the p2p address (multiaddr with /p2p/ID) of the node
	// serving task now, waiting for an assignment if there is none yet.
	Peer(ctx context.Context, task int) (string, error)
	// Failed reports that addr failed to serve task; it returns once the
	// task has been reassigned (Peer then names the new node).
	Failed(ctx context.Context, task int, addr string, cause error) error
}

// Config describes a session.
type Config struct {
	// Host is this side's p2p host.
	Host *p2p.Host
	// Model is the model's chain id.
	Model [32]byte
	// SessionID names the session on every node (e.g. the execution id).
	SessionID string
	// Tasks are the model's tasks.
	Tasks []Task
	// Resolver locates task nodes.
	Resolver Resolver
	// MaxFailovers bounds the replacements per task (default 3).
	MaxFailovers int
	// NoRelay keeps every step's activations going through this side even
	// when the tasks form a chain whose nodes could pass them on directly.
	NoRelay bool
}

// levels groups task indices by longest distance from the model inputs:
// tasks of one level never read each other's outputs.
func levels(tasks []Task) ([][]int, error) {
	producer := map[string]int{}
	for i, t := range tasks {
		for _, o := range t.Outputs {
			if _, dup := producer[o]; dup {
				return nil, fmt.Errorf("pipeline: %q is produced by two tasks", o)
			}
			producer[o] = i
		}
	}
	level := make([]int, len(tasks))
	done := make([]bool, len(tasks))
	for range tasks {
		progress := false
		for i, t := range tasks {
			if done[i] {
				continue
			}
			ready, lv := true, 0
			for _, in := range t.Inputs {
				if p, ok := producer[in]; ok {
					if !done[p] {
						ready = false
						break
					}
					lv = max(lv, level[p]+1)
				}
			}
			if ready {
				done[i], level[i], progress = true, lv, true
			}
		}
		if !progress {
			break
		}
	}
	var out [][]int
	for i := range tasks {
		if !done[i] {
			return nil, errors.New("pipeline: the task graph has a cycle")
		}
		for len(out) <= level[i] {
			out = append(out, nil)
		}
		out[level[i]] = append(out[level[i]], i)
	}
	for _, l := range out {
		sort.Ints(l)
	}
	return out, nil
}

// history accumulates the model inputs of a session's steps, row by row,
// for replay.
type history struct {
	names []string
	data  map[string][]byte
	dtype map[string]ir.DType
	shape map[string]ir.Shape // per row
	pos   []int32
}

func newHistory() *history {
	return &history{data: map[string][]byte{}, dtype: map[string]ir.DType{}, shape: map[string]ir.Shape{}}
}

func (h *history) add(pos []int32, ts []p2p.NamedTensor) {
	h.pos = append(h.pos, pos...)
	for _, t := range ts {
		if _, ok := h.data[t.Name]; !ok {
			h.names = append(h.names, t.Name)
			h.dtype[t.Name] = t.Frame.DType
			h.shape[t.Name] = ir.Shape(t.Frame.Shape[1:]).Clone()
		}
		h.data[t.Name] = append(h.data[t.Name], t.Frame.Data...)
	}
}

// tensor returns everything recorded of name as one batched tensor.
func (h *history) tensor(name string) (p2p.NamedTensor, bool) {
	d, ok := h.data[name]
	if !ok {
		return p2p.NamedTensor{}, false
	}
	shape := append(ir.Shape{len(h.pos)}, h.shape[name]...)
	return p2p.NamedTensor{Name: name, Frame: ir.Frame{DType: h.dtype[name], Shape: shape, Data: d}}, true
}
