package contract

import (
	"fmt"
	"slices"
	"strings"
)

func (s *st) commitResult(c *txCtx, m *CommitResult) TxResult {
	e, t, why := s.runningTask(m.Exec, m.Task)
	if why != "" {
		return fail(CodeNotFound, "commit: %s %d/%d", why, m.Exec, m.Task)
	}
	if t.State != taskRunning {
		return fail(CodeBadState, "commit: task %d/%d is %s", m.Exec, m.Task, taskStateNames[t.State])
	}
	if t.Node != c.tx.Signer {
		return fail(CodeUnauthorized, "commit: task %d/%d is assigned to %s", m.Exec, m.Task, t.Node)
	}
	if s.header.TimeUnixNano > t.Deadline {
		return fail(CodeBadState, "commit: deadline of task %d/%d passed", m.Exec, m.Task)
	}
	if m.Steps == 0 || m.Steps > e.MaxTokens {
		return fail(CodeInvalidMsg, "commit: steps must be 1..%d", e.MaxTokens)
	}
	mo := s.models[e.Model]
	spec := &mo.Spec.Tasks[m.Task]
	if r := sameNames(m.Inputs, spec.Inputs); r != "" {
		return fail(CodeInvalidMsg, "commit: inputs: %s", r)
	}
	if r := sameNames(m.Outputs, spec.Outputs); r != "" {
		return fail(CodeInvalidMsg, "commit: outputs: %s", r)
	}
	// A commitment that contradicts another's is taken all the same:
	// refusing it would let whoever commits first decide the roots, and an
	// honest node could then never commit its own. Both sides are verified
	// instead (see settleTask).
	with, why := e.breaks(mo.dag, int(m.Task), m.Steps, m.Inputs, m.Outputs)
	c.pay(s)
	pay, _ := mulDiv(t.Price, uint64(m.Steps), uint64(e.MaxTokens)) // = PricePerCU × CU × Steps
	// The verification surcharge funds the pool now, before any draw pays a
	// validator from it; it never exceeds what the request reserved, even if
	// SetParams raised p or Rv since.
	sur, _ := s.surcharge(pay)
	sur = min(sur, t.Surcharge)
	e.Escrow -= sur
	s.credit(PoolAddress, sur)
	t.State = taskCommitted
	t.Commit = commitment{Height: s.height, Time: s.header.TimeUnixNano, Steps: m.Steps, Payment: pay,
		Inputs: cloneRoots(m.Inputs), Outputs: cloneRoots(m.Outputs)}
	evs := []Event{ev(EventTaskCommitted, "exec", utoa(e.ID), "task", utoa(uint64(m.Task)), "node", t.Node.String(), "steps", utoa(uint64(m.Steps)))}
	if len(with) > 0 {
		t.Verify.Disputed = true
		var ws []string
		for _, j := range with {
			s.dispute(e, j)
			ws = append(ws, itoa(j))
		}
		evs = append(evs, ev(EventCustodyBroken, "exec", utoa(e.ID), "task", utoa(uint64(m.Task)), "with", strings.Join(ws, ","), "reason", why))
	}
	if e.State == execRunning && e.allCommitted() {
		e.State = execCompleted
		evs = append(evs, ev(EventExecutionCompleted, "exec", utoa(e.ID)))
	}
	return ok(evs...)
}

func cloneRoots(rs []TensorRoot) []TensorRoot { return append([]TensorRoot(nil), rs...) }

// sameNames checks that roots name exactly the specs, in order.
func sameNames(roots []TensorRoot, specs []TensorSpec) string {
	if len(roots) != len(specs) {
		return fmt.Sprintf("want %d roots, got %d", len(specs), len(roots))
	}
	for i := range roots {
		if roots[i].Name != specs[i].Name {
			return fmt.Sprintf("root %d names %q, want %q", i, roots[i].Name, specs[i].Name)
		}
	}
	return ""
}

func rootOf(rs []TensorRoot, name string) (Hash, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r.Root, true
		}
	}
	return Hash{}, false
}

func (t *taskRun) hasCommit() bool { return t.State == taskCommitted || t.State == taskSettled }

// breaks lists the committed tasks other than i whose commitments
// disagree with task i's commitment of steps steps and roots in and out,
// and the first disagreement. Every task runs every step, so all commit the
// same step count (the roots alone would not show a node claiming pay for
// steps it did not run); each input root equals its producer's output root
// (or, for a model input, the other consumers' input root), and each
// output root equals its consumers' input roots.
func (e *execution) breaks(g *dag, i int, steps uint32, in, out []TensorRoot) ([]int, string) {
	var with []int
	why := ""
	add := func(j int, reason string) {
		if !slices.Contains(with, j) {
			with = append(with, j)
		}
		if why == "" {
			why = reason
		}
	}
	for j := range e.Tasks {
		if t := &e.Tasks[j]; j != i && t.hasCommit() && t.Commit.Steps != steps {
			add(j, fmt.Sprintf("%d steps, but task %d committed %d", steps, j, t.Commit.Steps))
		}
	}
	for _, r := range in {
		if p := g.producer[r.Name]; p >= 0 {
			if pt := &e.Tasks[p]; pt.hasCommit() {
				if o, _ := rootOf(pt.Commit.Outputs, r.Name); o != r.Root {
					add(p, fmt.Sprintf("input %q differs from task %d's output", r.Name, p))
				}
			}
			continue
		}
		e.consumersDisagree(g, i, r, add)
	}
	for _, r := range out {
		e.consumersDisagree(g, i, r, add)
	}
	slices.Sort(with)
	return with, why
}

// consumersDisagree reports (through add) the committed consumers of
// root.Name, other than task self, whose input root differs from root.
func (e *execution) consumersDisagree(g *dag, self int, root TensorRoot, add func(int, string)) {
	for _, c := range g.consumers[root.Name] {
		if ct := &e.Tasks[c]; c != self && ct.hasCommit() {
			if r, _ := rootOf(ct.Commit.Inputs, root.Name); r != root.Root {
				add(c, fmt.Sprintf("tensor %q differs from task %d's input", root.Name, c))
			}
		}
	}
}

// dispute marks a committed task whose commitment another one contradicts:
// it is verified whatever its draw, and paid only as settleTask decides.
// A task already settled keeps its payment.
func (s *st) dispute(e *execution, j int) {
	t := &e.Tasks[j]
	if t.State != taskCommitted {
		return
	}
	v := &t.Verify
	v.Disputed = true
	if v.State == vSkipped {
		v.State, v.After = vNeedFirst, s.height
	}
}

func (e *execution) allCommitted() bool {
	for i := range e.Tasks {
		if !e.Tasks[i].hasCommit() {
			return false
		}
	}
	return true
}
