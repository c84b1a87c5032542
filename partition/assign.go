package partition

import (
	"errors"
	"fmt"
	"sort"
)

// ErrNoNode is wrapped by Assign errors when some task fits no node.
var ErrNoNode = errors.New("no node can take the task")

// Node is a machine that tasks can be placed on.
type Node struct {
	// ID names the node.
	ID string
	// VRAM is the memory it offers, in bytes.
	VRAM int64
	// Tasks lists the task IDs it specialises in; empty means any task.
	Tasks []int
}

func (n *Node) accepts(task int) bool {
	if len(n.Tasks) == 0 {
		return true
	}
	for _, t := range n.Tasks {
		if t == task {
			return true
		}
	}
	return false
}

// Assignment places each task of a plan on a node.
type Assignment struct {
	// Node maps a task ID to an index into the nodes given to Assign.
	Node []int
	// Used is the VRAM each node's tasks take, by node index.
	Used []int64
	// CrossBytes is the bytes per token that cross between nodes.
	CrossBytes int64
}

// Assign places p's tasks on nodes so that each node's tasks fit its VRAM
// together and few bytes cross between nodes: tasks join the node of the
// neighbours they exchange the most with, then single moves improve the
// result while they can. Ties are broken by a node order drawn from seed,
// so the result is a function of (p, nodes, seed).
func Assign(p *Plan, nodes []Node, seed uint64) (*Assignment, error) {
	rank := shuffle(len(nodes), seed)
	order := make([]int, len(p.Tasks))
	for i := range order {
		order[i] = i
	}
	as, err := greedy(p, nodes, rank, order)
	if err != nil { // retry, largest tasks first
		sort.SliceStable(order, func(x, y int) bool { return p.Tasks[order[x]].VRAM > p.Tasks[order[y]].VRAM })
		if as, err = greedy(p, nodes, rank, order); err != nil {
			return nil, err
		}
	}
	for improve(p, nodes, rank, as) {
	}
	as.CrossBytes = cross(p, as.Node)
	return as, nil
}

// shuffle returns a permutation's ranks drawn from seed (splitmix64 and a
// Fisher–Yates shuffle): rank[node] orders nodes among equals.
func shuffle(n int, seed uint64) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	x := seed
	next := func() uint64 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := n - 1; i > 0; i-- {
		j := int(next() % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	rank := make([]int, n)
	for r, i := range perm {
		rank[i] = r
	}
	return rank
}

// affinity returns the bytes per token task t exchanges with tasks
// already on node n.
func affinity(p *Plan, where []int, t, n int) int64 {
	var b int64
	for _, e := range p.Edges {
		if e.From == t && where[e.To] == n || e.To == t && where[e.From] == n {
			b += e.BytesPerToken
		}
	}
	return b
}

func greedy(p *Plan, nodes []Node, rank, order []int) (*Assignment, error) {
	as := &Assignment{Node: make([]int, len(p.Tasks)), Used: make([]int64, len(nodes))}
	for i := range as.Node {
		as.Node[i] = -1
	}
	for _, t := range order {
		need, best := p.Tasks[t].VRAM, -1
		var bestAff, bestFree int64
		for n := range nodes {
			free := nodes[n].VRAM - as.Used[n] - need
			if free < 0 || !nodes[n].accepts(t) {
				continue
			}
			aff := affinity(p, as.Node, t, n)
			if best < 0 || aff > bestAff || aff == bestAff && (free < bestFree || free == bestFree && rank[n] < rank[best]) {
				best, bestAff, bestFree = n, aff, free
			}
		}
		if best < 0 {
			return nil, fmt.Errorf("%w: task %d needs %d bytes; add a node with that much free VRAM that accepts it", ErrNoNode, t, need)
		}
		as.Node[t] = best
		as.Used[best] += need
	}
	return as, nil
}

// improve makes the single task move that lowers the crossing bytes most,
// and reports whether it made one.
func improve(p *Plan, nodes []Node, rank []int, as *Assignment) bool {
	bt, bn := -1, -1
	var gain int64
	for t := range p.Tasks {
		from := as.Node[t]
		stay := affinity(p, as.Node, t, from)
		for n := range nodes {
			if n == from || as.Used[n]+p.Tasks[t].VRAM > nodes[n].VRAM || !nodes[n].accepts(t) {
				continue
			}
			if d := affinity(p, as.Node, t, n) - stay; d > gain || d == gain && d > 0 && rank[n] < rank[bn] {
				bt, bn, gain = t, n, d
			}
		}
	}
	if bt < 0 {
		return false
	}
	as.Used[as.Node[bt]] -= p.Tasks[bt].VRAM
	as.Used[bn] += p.Tasks[bt].VRAM
	as.Node[bt] = bn
	return true
}

// cross sums the bytes of edges whose ends are on different nodes.
func cross(p *Plan, where []int) int64 {
	var b int64
	for _, e := range p.Edges {
		if where[e.From] != where[e.To] {
			b += e.BytesPerToken
		}
	}
	return b
}
