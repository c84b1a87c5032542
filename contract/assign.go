package contract

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// draw derives a uniform uint64 from the current block's beacon, a domain
// string and the given numbers.
func (s *st) draw(domain string, nums ...uint64) uint64 {
	b := make([]byte, 0, len(domain)+1+32+8*len(nums))
	b = append(b, domain...)
	b = append(b, 0)
	b = append(b, s.header.Beacon[:]...)
	for _, n := range nums {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	h := sha(b)
	return binary.BigEndian.Uint64(h[:8])
}

// below maps x uniformly onto [0, n).
func below(x, n uint64) uint64 {
	hi, _ := bits.Mul64(x, n)
	return hi
}

// weightedPick picks one of cands (sorted by address) with probability
// proportional to stake; x is the random draw.
func (s *st) weightedPick(cands []Address, x uint64) (Address, bool) {
	var total uint64
	for _, a := range cands {
		total += s.nodes[a].Stake // bounded by the supply
	}
	if total == 0 {
		return Address{}, false
	}
	target := below(x, total)
	for _, a := range cands {
		stake := s.nodes[a].Stake
		if target < stake {
			return a, true
		}
		target -= stake
	}
	return Address{}, false
}

// candidates lists eligible nodes specialised in ref, minus excluded ones,
// sorted by address.
func (s *st) candidates(ref TaskRef, exclude ...[]Address) []Address {
	var out []Address
	for _, a := range s.nodeKeys() {
		n := s.nodes[a]
		if !s.eligible(n) || !n.specialised(ref) {
			continue
		}
		skip := false
		for _, ex := range exclude {
			skip = skip || slices.Contains(ex, a)
		}
		if !skip {
			out = append(out, a)
		}
	}
	return out
}

// taskDuration is the base deadline of a task: base + perCU × CU × tokens.
func (s *st) taskDuration(mo *model, task int, tokens uint32) int64 {
	cu := mo.Spec.Tasks[task].ComputeUnits // ≤ 2^40
	per := satMul(s.params.DeadlinePerCU, satMul(int64(cu), int64(tokens)))
	return satAdd(s.params.DeadlineBase, per)
}

// assignPending assigns pending tasks queued before this block, in
// topological order, at most MaxExecsPerBlk executions per block.
func (s *st) assignPending() []Event {
	var evs []Event
	budget := s.params.MaxExecsPerBlk
	for _, id := range slices.Clone(s.active) {
		e := s.execs[id]
		if budget == 0 || e.State != execRunning || !e.hasPending(s.height) {
			continue
		}
		budget--
		mo := s.models[e.Model]
		for _, i := range mo.dag.order {
			if t := &e.Tasks[i]; e.State == execRunning && t.State == taskPending && t.AssignAfter < s.height {
				evs = append(evs, s.assignTask(e, mo, i)...)
			}
		}
	}
	return evs
}

func (e *execution) hasPending(h int64) bool {
	for _, t := range e.Tasks {
		if t.State == taskPending && t.AssignAfter < h {
			return true
		}
	}
	return false
}

// assignTask picks a node for task i: the node of an adjacent task when it is
// eligible, otherwise a stake-weighted draw from the beacon.
func (s *st) assignTask(e *execution, mo *model, i int) []Event {
	t := &e.Tasks[i]
	cands := s.candidates(TaskRef{Model: e.Model, Task: uint32(i)}, e.Blacklist)
	if len(cands) == 0 {
		return []Event{s.stopExecution(e, execFailed, EventExecutionFailed, "no eligible node for task "+itoa(i))}
	}
	a, found := e.adjacentNode(mo.dag, i, cands)
	if !found {
		a, _ = s.weightedPick(cands, s.draw("splitup/assign", e.ID, uint64(i), uint64(t.Attempt)))
	}
	shift := min(t.Attempt, 62)
	t.Attempt++
	t.State, t.Node = taskRunning, a
	t.Deadline = satAdd(s.header.TimeUnixNano, satMul(s.taskDuration(mo, i, e.MaxTokens), int64(1)<<shift))
	return []Event{ev(EventTaskAssigned, "exec", utoa(e.ID), "task", itoa(i), "node", a.String(),
		"p2p", s.nodes[a].P2PAddr, "attempt", utoa(uint64(t.Attempt)), "deadline", itoa64(t.Deadline))}
}

// adjacentNode returns the node already holding a predecessor (then a
// successor) of task i, if it is among cands.
func (e *execution) adjacentNode(g *dag, i int, cands []Address) (Address, bool) {
	holds := func(j int) (Address, bool) {
		t := e.Tasks[j]
		if (t.State == taskRunning || t.State == taskCommitted || t.State == taskSettled) && slices.Contains(cands, t.Node) {
			return t.Node, true
		}
		return Address{}, false
	}
	for _, p := range g.preds[i] {
		if a, ok := holds(p); ok {
			return a, true
		}
	}
	for j, ps := range g.preds {
		if slices.Contains(ps, i) {
			if a, ok := holds(j); ok {
				return a, true
			}
		}
	}
	return Address{}, false
}
