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
			if t.State == taskCommitted && s.windowPassed(t) && (t.Verify.State == vSkipped || t.Verify.State == vDone) {
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

// settleTask pays the task's node unless the payment was forfeited (then it
// stays in the escrow and is refunded). The escrow covers it (checked at request).
func (s *st) settleTask(e *execution, i int) Event {
	t := &e.Tasks[i]
	paid := t.Commit.Payment
	if t.Verify.Forfeit {
		paid = 0
	}
	e.Escrow -= paid
	s.credit(t.Node, paid)
	t.State = taskSettled
	return ev(EventTaskSettled, "exec", utoa(e.ID), "task", itoa(i), "node", t.Node.String(),
		"paid", utoa(paid), "forfeit", boolText(t.Verify.Forfeit))
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
