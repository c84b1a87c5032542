package contract

import "fmt"

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
	if r := e.custody(mo.dag, int(m.Task), m); r != "" {
		return fail(CodeCustody, "commit: chain of custody broken: %s", r)
	}
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

// custody compares task i's commitment with the execution's committed
// tasks: every task runs every step, so all commit the same step count
// (the roots alone would not show a node claiming pay for steps it did
// not run); each input root equals its producer's output root (or, for a
// model input, the other consumers' input root), and each output root
// equals its consumers' input roots.
func (e *execution) custody(g *dag, i int, m *CommitResult) string {
	for j := range e.Tasks {
		if t := &e.Tasks[j]; j != i && t.hasCommit() && t.Commit.Steps != m.Steps {
			return fmt.Sprintf("%d steps, but task %d committed %d", m.Steps, j, t.Commit.Steps)
		}
	}
	for _, in := range m.Inputs {
		if p := g.producer[in.Name]; p >= 0 {
			if pt := &e.Tasks[p]; pt.hasCommit() {
				if r, _ := rootOf(pt.Commit.Outputs, in.Name); r != in.Root {
					return fmt.Sprintf("input %q differs from task %d's output", in.Name, p)
				}
			}
			continue
		}
		if r := e.consumersAgree(g, i, in); r != "" {
			return r
		}
	}
	for _, out := range m.Outputs {
		if r := e.consumersAgree(g, i, out); r != "" {
			return r
		}
	}
	return ""
}

// consumersAgree checks root against the input roots of the committed
// consumers of root.Name (other than task self).
func (e *execution) consumersAgree(g *dag, self int, root TensorRoot) string {
	for _, c := range g.consumers[root.Name] {
		if ct := &e.Tasks[c]; c != self && ct.hasCommit() {
			if r, _ := rootOf(ct.Commit.Inputs, root.Name); r != root.Root {
				return fmt.Sprintf("tensor %q differs from task %d's input", root.Name, c)
			}
		}
	}
	return ""
}

func (e *execution) allCommitted() bool {
	for i := range e.Tasks {
		if !e.Tasks[i].hasCommit() {
			return false
		}
	}
	return true
}
