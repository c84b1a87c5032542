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
// neighbours they exchange the most with, then moves, swaps and merges of
// nodes improve the result while they can. Ties are broken by a node order drawn from seed,
// so the result is a function of (p, nodes, seed).
func Assign(p *Plan, nodes []Node, seed uint64) (*Assignment, error) {
	rank := shuffle(len(nodes), seed)
	order := make([]int, len(p.Tasks))
	for i := range order {
		order[i] = i
	}
	as, err := greedy(p, nodes, rank, order, false)
	if err != nil { // retry, largest tasks first, packing tightly
		sort.SliceStable(order, func(x, y int) bool { return p.Tasks[order[x]].VRAM > p.Tasks[order[y]].VRAM })
		if as, err = greedy(p, nodes, rank, order, true); err != nil {
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

// greedy places the tasks in order. A task joins the node it exchanges
// the most bytes with; a task with no such node opens the node with the
// most free VRAM (room for its successors), or with bestFit the one with
// the least that suffices (room for large tasks); ties go by rank.
func greedy(p *Plan, nodes []Node, rank, order []int, bestFit bool) (*Assignment, error) {
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
			if best < 0 || prefer(aff, bestAff, free, bestFree, bestFit) || aff == bestAff && free == bestFree && rank[n] < rank[best] {
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

// prefer reports whether a node with affinity aff and free bytes free
// (after placing) beats the best so far.
func prefer(aff, bestAff, free, bestFree int64, bestFit bool) bool {
	if aff != bestAff {
		return aff > bestAff
	}
	if bestFit {
		return free < bestFree
	}
	return free > bestFree
}

// improve applies the change that lowers the crossing bytes most — moving
// one task, swapping two, or moving all of a node's tasks to another — and
// reports whether it found one.
func improve(p *Plan, nodes []Node, rank []int, as *Assignment) bool {
	base := cross(p, as.Node)
	best, bestGain := []int(nil), int64(0)
	try := func(where []int) {
		if g := base - cross(p, where); g > bestGain && fits(p, nodes, where) {
			best, bestGain = append([]int(nil), where...), g
		}
	}
	where := append([]int(nil), as.Node...)
	for t := range where {
		for _, n := range byRank(rank) {
			if n != as.Node[t] {
				where[t] = n
				try(where)
			}
		}
		where[t] = as.Node[t]
	}
	if len(where) <= 200 {
		for t := range where {
			for u := t + 1; u < len(where); u++ {
				where[t], where[u] = as.Node[u], as.Node[t]
				try(where)
				where[t], where[u] = as.Node[t], as.Node[u]
			}
		}
	}
	for _, from := range byRank(rank) {
		for _, to := range byRank(rank) {
			for t := range where {
				if as.Node[t] == from {
					where[t] = to
				}
			}
			try(where)
			copy(where, as.Node)
		}
	}
	if best == nil {
		return false
	}
	as.Node = best
	for n := range as.Used {
		as.Used[n] = 0
	}
	for t, n := range best {
		as.Used[n] += p.Tasks[t].VRAM
	}
	return true
}

// byRank lists node indices in rank order.
func byRank(rank []int) []int {
	out := make([]int, len(rank))
	for n, r := range rank {
		out[r] = n
	}
	return out
}

// fits reports whether the placement respects VRAM and specialisations.
func fits(p *Plan, nodes []Node, where []int) bool {
	used := make([]int64, len(nodes))
	for t, n := range where {
		used[n] += p.Tasks[t].VRAM
		if used[n] > nodes[n].VRAM || !nodes[n].accepts(t) {
			return false
		}
	}
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
