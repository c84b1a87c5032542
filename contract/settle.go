package contract

import "slices"

// settle pays out committed tasks whose challenge window passed and whose
// verification is resolved, then closes finished executions with a refund.
func (s *st) settle() []Event {
	var evs []Event
	for _, id := range slices.Clone(s.active) {
		e := s.execs[id]
		for i := range e.Tasks {
			t := &e.Tasks[i]
			if t.State == taskCommitted && s.windowPassed(t) && resolved(t) && (!t.Verify.Disputed || s.disputeResolved(e, i)) {
				evs = append(evs, s.settleTask(e, i))
			}
		}
		if e.State != execRunning && e.allClosed() {
			evs = append(evs, s.closeExecution(e))
		}
	}
	s.dropClosed()
	return evs
}

// dropClosed removes the executions that settled RetainNanos or longer ago:
// nothing is owed on them any more, and the state (which every block
// hashes and stores whole) must not grow with every request ever served.
// Queries for them then answer not found.
func (s *st) dropClosed() {
	n := 0
	for _, id := range s.closed {
		if s.header.TimeUnixNano < satAdd(s.execs[id].Closed, s.params.RetainNanos) {
			break
		}
		delete(s.execs, id)
		n++
	}
	s.closed = slices.Delete(s.closed, 0, n)
}

func (s *st) windowPassed(t *taskRun) bool {
	return s.header.TimeUnixNano >= satAdd(t.Commit.Time, s.params.ChallengeNanos)
}

// resolved reports whether a committed task's verification is over (or
// was never drawn).
func resolved(t *taskRun) bool { return t.Verify.State == vSkipped || t.Verify.State == vDone }

// contradicting lists the committed tasks whose commitments contradict
// task i's.
func (s *st) contradicting(e *execution, i int) []int {
	t := &e.Tasks[i]
	with, _ := e.breaks(s.models[e.Model].dag, i, t.Commit.Steps, t.Commit.Inputs, t.Commit.Outputs)
	return with
}

// disputeResolved reports whether every task contradicting task i has its
// verification over, so that settleTask can judge the dispute.
func (s *st) disputeResolved(e *execution, i int) bool {
	for _, j := range s.contradicting(e, i) {
		if tj := &e.Tasks[j]; tj.State == taskCommitted && !resolved(tj) {
			return false
		}
	}
	return true
}

// settleTask pays the task's node unless the payment was forfeited (then it
// stays in the escrow and is refunded). The escrow covers it (checked at
// request). A disputed task (its commitment and another's contradict each
// other) is paid only if its own verification passed and a contradicting
// task's verification caught that one cheating: a contradiction nobody is
// shown to have caused costs both sides their payment, so no node gains by
// committing roots other than those it sent or received.
func (s *st) settleTask(e *execution, i int) Event {
	t := &e.Tasks[i]
	if t.Verify.Disputed && !t.Verify.Forfeit {
		t.Verify.Unpaid = true
		for _, j := range s.contradicting(e, i) {
			if e.Tasks[j].Verify.Forfeit { // caught by its verification
				t.Verify.Unpaid = false // the other side explains the break
			}
		}
	}
	forfeit := t.Verify.Forfeit || t.Verify.Unpaid
	paid := t.Commit.Payment
	if forfeit {
		paid = 0
	}
	e.Escrow -= paid
	s.credit(t.Node, paid)
	t.State = taskSettled
	return ev(EventTaskSettled, "exec", utoa(e.ID), "task", itoa(i), "node", t.Node.String(),
		"paid", utoa(paid), "forfeit", boolText(forfeit))
}

func (e *execution) allClosed() bool {
	for _, t := range e.Tasks {
		if t.State != taskSettled && t.State != taskCancelled {
			return false
		}
	}
	return true
}

// closeExecution refunds the remaining escrow to the requester.
func (s *st) closeExecution(e *execution) Event {
	refund := e.Escrow
	s.credit(e.Requester, refund)
	e.Escrow = 0
	e.State = execSettled
	e.Closed = s.header.TimeUnixNano
	s.closed = append(s.closed, e.ID)
	if j, found := slices.BinarySearch(s.active, e.ID); found {
		s.active = slices.Delete(s.active, j, j+1)
	}
	return ev(EventSettled, "exec", utoa(e.ID), "refund", utoa(refund))
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
