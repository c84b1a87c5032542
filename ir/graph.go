package ir

import (
	"encoding/json"
	"fmt"
)

// Kind says where a tensor's data comes from.
type Kind uint8

// The tensor kinds. The numeric values are part of the canonical encoding.
const (
	// KindValue is produced by an op (per row).
	KindValue Kind = 0
	// KindInput is supplied by the caller each step (per row).
	KindInput Kind = 1
	// KindWeight is a constant bound by name (full shape).
	KindWeight Kind = 2
	// KindState persists across steps of a session, e.g. a KV cache (full shape).
	KindState Kind = 3
)

var kindNames = [...]string{"value", "input", "weight", "state"}

// String returns the lower-case name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Batched reports whether tensors of kind k have an implicit row dimension.
func (k Kind) Batched() bool { return k == KindValue || k == KindInput }

// Attrs are the attributes of an op. Each op reads only the fields its
// documentation names; all others must be zero.
type Attrs struct {
	// Eps is RMSNorm's epsilon.
	Eps float32 `json:"eps,omitempty"`
	// Theta is RoPE's frequency base.
	Theta float32 `json:"theta,omitempty"`
	// HeadSize is the per-head width of RoPE and Attention.
	HeadSize int `json:"head_size,omitempty"`
	// Heads is Attention's number of query heads.
	Heads int `json:"heads,omitempty"`
	// KVHeads is Attention's number of key/value heads (divides Heads).
	KVHeads int `json:"kv_heads,omitempty"`
	// Axis is the per-row axis of Slice and Concat.
	Axis int `json:"axis,omitempty"`
	// Start is Slice's first index (inclusive).
	Start int `json:"start,omitempty"`
	// End is Slice's last index (exclusive).
	End int `json:"end,omitempty"`
	// Shape is Reshape's per-row target shape.
	Shape Shape `json:"shape,omitempty"`
}

func (a *Attrs) isZero() bool {
	return a.Eps == 0 && a.Theta == 0 && a.HeadSize == 0 && a.Heads == 0 && a.KVHeads == 0 &&
		a.Axis == 0 && a.Start == 0 && a.End == 0 && len(a.Shape) == 0
}

// Tensor is one node of a graph. Value tensors carry the op that produces
// them and its operands (indices into Graph.Tensors).
type Tensor struct {
	// Name identifies inputs, weights and states (required, unique) and
	// optionally values (unique when set).
	Name string `json:"name,omitempty"`
	// Kind says where the data comes from.
	Kind Kind `json:"kind"`
	// DType is the element type.
	DType DType `json:"dtype"`
	// Shape is per row for inputs and values, full for weights and states.
	Shape Shape `json:"shape"`
	// Op produces a value; OpNone for other kinds.
	Op Op `json:"op,omitempty"`
	// Args are the operands of Op, as indices into Graph.Tensors.
	Args []int `json:"args,omitempty"`
	// Attrs are Op's attributes.
	Attrs Attrs `json:"attrs,omitzero"`
}

// Output names a tensor the caller reads after a step.
type Output struct {
	// Name is the caller-visible name.
	Name string `json:"name"`
	// Tensor is an index into Graph.Tensors.
	Tensor int `json:"tensor"`
}

// Graph is a verified or unverified tensor graph. It is plain data.
type Graph struct {
	// Tensors are the nodes; operands refer to them by index.
	Tensors []Tensor `json:"tensors"`
	// Outputs are the tensors a step returns.
	Outputs []Output `json:"outputs"`
}

// Lookup returns the index of the tensor named name, or -1.
func (g *Graph) Lookup(name string) int {
	for i := range g.Tensors {
		if g.Tensors[i].Name == name {
			return i
		}
	}
	return -1
}

// OfKind returns the indices of the tensors of kind k, in index order.
func (g *Graph) OfKind(k Kind) []int {
	var out []int
	for i := range g.Tensors {
		if g.Tensors[i].Kind == k {
			out = append(out, i)
		}
	}
	return out
}

// Bytes returns the storage size of tensor i: for batched kinds, of one row.
func (g *Graph) Bytes(i int) int64 {
	t := &g.Tensors[i]
	n, err := t.DType.Bytes(t.Shape.Elems())
	if err != nil {
		return 0
	}
	return n
}

// Order returns the tensor indices in a topological order (operands first,
// ties broken by index). It fails with ErrCycle on a cycle and ErrGraph on a
// bad reference.
func (g *Graph) Order() ([]int, error) {
	n := len(g.Tensors)
	indeg := make([]int, n)
	users := make([][]int, n)
	for i := range g.Tensors {
		for _, a := range g.Tensors[i].Args {
			if a < 0 || a >= n {
				return nil, fmt.Errorf("%w: tensor %d refers to tensor %d of %d", ErrGraph, i, a, n)
			}
			indeg[i]++
			users[a] = append(users[a], i)
		}
	}
	// Kahn's algorithm with a min-heap replaced by an ordered scan: process
	// ready tensors in index order for a deterministic result.
	order := make([]int, 0, n)
	ready := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != n {
		for i := 0; i < n; i++ {
			if indeg[i] > 0 {
				return nil, fmt.Errorf("%w: through tensor %d %q", ErrCycle, i, g.Tensors[i].Name)
			}
		}
	}
	return order, nil
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown tensor kind %q", ErrFormat, b)
}

// MarshalText implements encoding.TextMarshaler.
func (d DType) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("%w: %v", ErrDType, d)
	}
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *DType) UnmarshalText(b []byte) error {
	v, err := ParseDType(string(b))
	*d = v
	return err
}

// MarshalJSON returns the readable JSON form of g.
func (g *Graph) MarshalJSON() ([]byte, error) {
	type plain Graph
	return json.Marshal((*plain)(g))
}
