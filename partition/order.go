package partition

// elem is one element of a series: an op, or a block of independent
// branches (each itself a series) that may run in parallel.
type elem struct {
	op       int      // op tensor, or -1 for a block
	branches [][]elem // a block's branches
}

// level is a series over positions [lo, hi) of the planning order. Tasks
// may start or end only at bounds; a block is either inside one task or
// opened: each branch planned on its own, never sharing a task.
type level struct {
	lo, hi int
	bounds []int    // allowed task boundaries, ascending, lo..hi
	blocks []*block // the series' blocks, by start
}

// block is a run of positions [start, end) holding independent branches.
type block struct {
	start, end int
	branches   []*level
}

// flatten lays out elems in order, appending their ops to *ops, and returns
// the level over them.
func flatten(es []elem, ops *[]int) *level {
	if ops == nil {
		ops = new([]int)
	}
	lv := &level{lo: len(*ops)}
	for _, e := range es {
		lv.bounds = append(lv.bounds, len(*ops))
		if e.op >= 0 {
			*ops = append(*ops, e.op)
			continue
		}
		b := &block{start: len(*ops)}
		for _, br := range e.branches {
			b.branches = append(b.branches, flatten(br, ops))
		}
		b.end = len(*ops)
		lv.blocks = append(lv.blocks, b)
	}
	lv.hi = len(*ops)
	lv.bounds = append(lv.bounds, lv.hi)
	return lv
}

// decompose splits a topologically ordered list of ops into a series of
// ops and parallel blocks: independent components become branches, the
// list is cut where a single value dominates everything after it, and a
// region without such cuts is split at its final join.
func (a *analysis) decompose(s []int) []elem {
	if len(s) == 1 {
		return []elem{{op: s[0]}}
	}
	a.mark(s)
	comps := a.components(s, seq(len(s)))
	var cuts []int
	if len(comps) == 1 {
		cuts = a.cuts(s)
	}
	a.unmark(s)
	if len(comps) > 1 {
		return []elem{a.block(s, comps)}
	}
	if len(cuts) == 0 {
		return a.region(s)
	}
	var out []elem
	prev := 0
	for _, c := range append(cuts, len(s)) {
		out = append(out, a.region(s[prev:c])...)
		prev = c
	}
	return out
}

// region decomposes a list that has no dominating cut: it peels the final
// join op (and joins feeding only it) off to expose independent branches.
func (a *analysis) region(r []int) []elem {
	n := len(r)
	if n == 1 {
		return []elem{{op: r[0]}}
	}
	a.mark(r)
	spine := make([]bool, n)
	spine[n-1] = true
	comps := a.components(r, seq(n-1))
	if len(comps) >= 2 {
		comps = a.peelJoins(r, comps, spine)
	}
	a.unmark(r)
	if len(comps) < 2 {
		return append(a.decompose(r[:n-1]), elem{op: r[n-1]})
	}
	out := []elem{a.block(r, comps)}
	for k, in := range spine {
		if in {
			out = append(out, elem{op: r[k]})
		}
	}
	return out
}

// peelJoins replaces a branch whose last op feeds only the spine and joins
// two or more independent parts by those parts, moving the op to the spine
// (so a chain of Concats over many slices yields one flat block).
func (a *analysis) peelJoins(r []int, comps [][]int, spine []bool) [][]int {
	for changed := true; changed; {
		changed = false
		var next [][]int
		for _, c := range comps {
			l := c[len(c)-1]
			if len(c) > 1 && a.feedsOnly(r[l], spine) {
				if sub := a.components(r, c[:len(c)-1]); len(sub) >= 2 {
					spine[l] = true
					next = append(next, sub...)
					changed = true
					continue
				}
			}
			next = append(next, c)
		}
		comps = next
	}
	return comps
}

// feedsOnly reports whether every consumer of op i inside the marked list
// is on the spine.
func (a *analysis) feedsOnly(i int, spine []bool) bool {
	for _, c := range a.consumers[i] {
		if k := a.local[c]; k >= 0 && !spine[k] {
			return false
		}
	}
	return true
}

func (a *analysis) block(s []int, comps [][]int) elem {
	e := elem{op: -1}
	for _, c := range comps {
		ops := make([]int, len(c))
		for k, l := range c {
			ops[k] = s[l]
		}
		e.branches = append(e.branches, a.decompose(ops))
	}
	return e
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// mark records the local index of each op of s in a.local.
func (a *analysis) mark(s []int) {
	if a.local == nil {
		a.local = make([]int32, len(a.g.Tensors))
		for i := range a.local {
			a.local[i] = -1
		}
	}
	for k, i := range s {
		a.local[i] = int32(k)
	}
}

func (a *analysis) unmark(s []int) {
	for _, i := range s {
		a.local[i] = -1
	}
}

// components returns the weakly connected components of the members (local
// indices, ascending) of the marked list s, each ascending, ordered by
// their first member.
func (a *analysis) components(s []int, members []int) [][]int {
	parent := make(map[int]int, len(members))
	for _, m := range members {
		parent[m] = m
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, m := range members {
		for _, x := range a.g.Tensors[s[m]].Args {
			k := int(a.local[x])
			if _, ok := parent[k]; k >= 0 && ok {
				ra, rb := find(m), find(k)
				parent[max(ra, rb)] = min(ra, rb)
			}
		}
	}
	idx := map[int]int{}
	var out [][]int
	for _, m := range members {
		r := find(m)
		k, ok := idx[r]
		if !ok {
			k = len(out)
			idx[r] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], m)
	}
	return out
}

// cuts returns the boundaries c of the marked list s (0 < c < len(s)) where
// exactly one value produced before c is read at or after c and every op
// from c on depends on it: the value dominates the rest.
func (a *analysis) cuts(s []int) []int {
	n := len(s)
	lastUse := make([]int, n)
	dying := make([][]int, n)
	for k, i := range s {
		lastUse[k] = k
		for _, c := range a.consumers[i] {
			lastUse[k] = max(lastUse[k], int(a.local[c]))
		}
		if l := lastUse[k]; l > k {
			dying[l] = append(dying[l], k)
		}
	}
	var out []int
	live, sum := 0, 0 // count and index sum of the values live across c
	for c := 1; c < n; c++ {
		k := c - 1
		if lastUse[k] > k {
			live, sum = live+1, sum+k
		}
		for _, q := range dying[k] {
			live, sum = live-1, sum-q
		}
		if live == 1 && a.dominates(s, sum, c) {
			out = append(out, c)
		}
	}
	return out
}

// dominates reports whether every op of the marked list s from position c
// on depends, inside s, on the value at position v.
func (a *analysis) dominates(s []int, v, c int) bool {
	desc := make([]bool, len(s)-c)
	for k := c; k < len(s); k++ {
		for _, x := range a.g.Tensors[s[k]].Args {
			if l := int(a.local[x]); l == v || (l >= c && desc[l-c]) {
				desc[k-c] = true
				break
			}
		}
		if !desc[k-c] {
			return false
		}
	}
	return true
}
