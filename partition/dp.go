package partition

import "sort"

// score is what planning minimises, in order: tasks, then bytes per token
// crossing between tasks, then the sum of squared task sizes (imbalance).
type score struct {
	tasks int
	cut   int64
	sq    float64
}

func (x score) plus(y score) score {
	return score{x.tasks + y.tasks, x.cut + y.cut, x.sq + y.sq}
}

func (x score) less(y score) bool {
	if x.tasks != y.tasks {
		return x.tasks < y.tasks
	}
	if x.cut != y.cut {
		return x.cut < y.cut
	}
	return x.sq < y.sq
}

// taskScore is the score of one task of the given size and incoming cut.
func taskScore(vram, cut int64) score {
	m := float64(vram) / (1 << 20)
	return score{1, cut, m * m}
}

// solution is an optimal split of a level into tasks, as position ranges.
type solution struct {
	score  score
	ranges [][2]int
}

// step records how the DP reached a boundary.
type step struct {
	from int
	sub  *solution // an opened block's branches; nil for one task
}

// solve finds the best split of lv into tasks of at most budget bytes:
// a dynamic programme over its boundaries, where a task is a run of
// whole elements and an opened block costs its branches' best splits.
// It reports false when some op does not fit on its own.
func (a *analysis) solve(lv *level, budget int64) (solution, bool) {
	n := lv.hi - lv.lo
	allowed := make([]bool, n+1)
	for _, b := range lv.bounds {
		allowed[b-lv.lo] = true
	}
	blocks := map[int]*block{}
	for _, b := range lv.blocks {
		blocks[b.start] = b
	}
	best := make([]score, n+1)
	reached := make([]bool, n+1)
	how := make([]step, n+1)
	reached[0] = true
	relax := func(i int, s score, st step) {
		if k := i - lv.lo; !reached[k] || s.less(best[k]) {
			best[k], reached[k], how[k] = s, true, st
		}
	}
	for _, j := range lv.bounds[:len(lv.bounds)-1] {
		if !reached[j-lv.lo] {
			continue
		}
		base := best[j-lv.lo]
		seg := a.begin(j)
		for seg.end < lv.hi {
			seg.add()
			v := seg.vram()
			if v > budget {
				break
			}
			if allowed[seg.end-lv.lo] {
				relax(seg.end, base.plus(taskScore(v, seg.cut)), step{from: j})
			}
		}
		if b := blocks[j]; b != nil {
			if sub, ok := a.solveBlock(b, budget); ok {
				relax(b.end, base.plus(sub.score), step{from: j, sub: &sub})
			}
		}
	}
	if !reached[n] {
		return solution{}, false
	}
	return solution{best[n], lv.trace(how)}, true
}

// trace rebuilds the task ranges of a solved level, in position order.
func (lv *level) trace(how []step) [][2]int {
	var out [][2]int
	for i := lv.hi; i > lv.lo; {
		st := how[i-lv.lo]
		if st.sub != nil {
			out = append(out, st.sub.ranges...)
		} else {
			out = append(out, [2]int{st.from, i})
		}
		i = st.from
	}
	sort.Slice(out, func(x, y int) bool { return out[x][0] < out[y][0] })
	return out
}

// solveBlock plans each branch of b on its own.
func (a *analysis) solveBlock(b *block, budget int64) (solution, bool) {
	var total solution
	for _, br := range b.branches {
		s, ok := a.solve(br, budget)
		if !ok {
			return solution{}, false
		}
		total.score = total.score.plus(s.score)
		total.ranges = append(total.ranges, s.ranges...)
	}
	return total, true
}
