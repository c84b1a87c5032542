package contract

import (
	"slices"
)

// Execution states.
const (
	execRunning   uint8 = 1 // tasks being assigned or run
	execCompleted uint8 = 2 // every task committed with custody intact
	execCancelled uint8 = 3 // stopped by the requester
	execFailed    uint8 = 4 // a task could not be (re)assigned
	execSettled   uint8 = 5 // all money moved; terminal
)

// Task states.
const (
	taskPending   uint8 = 1 // waiting for (re)assignment after AssignAfter
	taskRunning   uint8 = 2 // assigned, deadline running
	taskCommitted uint8 = 3 // result committed; verification and window pending
	taskCancelled uint8 = 4 // never committed; its payment is refunded
	taskSettled   uint8 = 5 // paid out or forfeited; terminal
)

var execStateNames = [...]string{"", "running", "completed", "cancelled", "failed", "settled"}
var taskStateNames = [...]string{"", "pending", "running", "committed", "cancelled", "settled"}

// execution is one session of a model.
type execution struct {
	ID        uint64
	Requester Address
	Model     Hash
	MaxTokens uint32
	Escrow    uint64 // base units still held
	State     uint8
	Height    int64     // request height
	Closed    int64     // block time (ns) it settled at; 0 before
	Blacklist []Address // nodes that failed in this execution, sorted
	Tasks     []taskRun
}

// taskRun is one task of an execution.
type taskRun struct {
	State       uint8
	Node        Address
	Attempt     uint32 // assignments so far
	AssignAfter int64  // assign at a height greater than this
	Deadline    int64  // block time (ns)
	Price       uint64 // reserved payment: PricePerCU × CU × MaxTokens
	Surcharge   uint64 // reserved verification surcharge of Price (params at request time)
	Commit      commitment
	Verify      verification
}

// commitment is a CommitResult as recorded.
type commitment struct {
	Height  int64
	Time    int64
	Steps   uint32
	Payment uint64 // PricePerCU × CU × Steps
	Inputs  []TensorRoot
	Outputs []TensorRoot
}

func (s *st) requestExecution(c *txCtx, m *RequestExecution) TxResult {
	mo := s.models[m.Model]
	if mo == nil {
		return fail(CodeNotFound, "request: unknown model %s", m.Model)
	}
	if m.MaxTokens == 0 {
		return fail(CodeInvalidMsg, "request: max_tokens must be > 0")
	}
	prices, surs, need, okSum := s.quote(mo, m.MaxTokens)
	if !okSum {
		return fail(CodeOverflow, "request: price of %d tokens overflows", m.MaxTokens)
	}
	if m.MaxFee < need {
		return fail(CodeInsufficient, "request: max_fee %d below the price %d (tasks + verification surcharge)", m.MaxFee, need)
	}
	if m.MaxFee > c.avail {
		return fail(CodeInsufficient, "request: max_fee %d exceeds spendable balance %d", m.MaxFee, c.avail)
	}
	c.pay(s)
	s.debit(c.tx.Signer, m.MaxFee)
	e := &execution{
		ID: s.nextExec, Requester: c.tx.Signer, Model: m.Model, MaxTokens: m.MaxTokens,
		Escrow: m.MaxFee, State: execRunning, Height: s.height, Tasks: make([]taskRun, len(prices)),
	}
	for i := range e.Tasks {
		e.Tasks[i] = taskRun{State: taskPending, AssignAfter: s.height, Price: prices[i], Surcharge: surs[i]}
	}
	s.execs[e.ID] = e
	s.active = append(s.active, e.ID)
	s.nextExec++
	return ok(ev(EventExecutionRequested, "exec", utoa(e.ID), "model", m.Model.String(), "escrow", utoa(m.MaxFee)))
}

// quote returns each task's reserved price and surcharge and the escrow
// needed: the sum of both.
func (s *st) quote(mo *model, tokens uint32) ([]uint64, []uint64, uint64, bool) {
	prices := make([]uint64, len(mo.Spec.Tasks))
	surs := make([]uint64, len(mo.Spec.Tasks))
	var need uint64
	for i, t := range mo.Spec.Tasks {
		p, ok1 := mul(t.ComputeUnits, uint64(tokens))
		p, ok2 := mul(p, s.params.PricePerCU)
		sur, ok3 := s.surcharge(p)
		need1, ok4 := add(need, p)
		need2, ok5 := add(need1, sur)
		if !(ok1 && ok2 && ok3 && ok4 && ok5) {
			return nil, nil, 0, false
		}
		prices[i], surs[i], need = p, sur, need2
	}
	return prices, surs, need, true
}

// surcharge is the expected validator reward of a task paid price:
// ceil(price × p × Rv). It funds the pool.
func (s *st) surcharge(price uint64) (uint64, bool) {
	f := uint64(s.params.VerifyPPM) * uint64(s.params.RewardBP) // ≤ 1e6 × 1e6
	return mulDivUp(price, f, PPM*BP)
}

func (s *st) cancelExecution(c *txCtx, m *CancelExecution) TxResult {
	e := s.execs[m.Exec]
	if e == nil {
		return fail(CodeNotFound, "cancel: unknown execution %d", m.Exec)
	}
	if e.Requester != c.tx.Signer {
		return fail(CodeUnauthorized, "cancel: only the requester may cancel execution %d", m.Exec)
	}
	if e.State != execRunning {
		return fail(CodeBadState, "cancel: execution %d is %s", m.Exec, execStateNames[e.State])
	}
	c.pay(s)
	return ok(s.stopExecution(e, execCancelled, EventExecutionCancelled, "requester"))
}

// stopExecution stops an execution: tasks waiting for a node are
// cancelled; a running task keeps its node, which may still commit the
// steps it ran until its deadline (the requester may have had every one of
// them: nodes commit when the session ends) and is cancelled only when
// that passes without a commitment (stoppedDeadlines).
func (s *st) stopExecution(e *execution, state uint8, typ, reason string) Event {
	e.State = state
	for i := range e.Tasks {
		if t := &e.Tasks[i]; t.State == taskPending {
			t.State = taskCancelled
		}
	}
	return ev(typ, "exec", utoa(e.ID), "reason", reason)
}

// runningTask finds a task the signer may act on.
func (s *st) runningTask(exec uint64, task uint32) (*execution, *taskRun, string) {
	e := s.execs[exec]
	if e == nil {
		return nil, nil, "unknown execution"
	}
	if int(task) >= len(e.Tasks) {
		return nil, nil, "unknown task"
	}
	return e, &e.Tasks[task], ""
}

func (s *st) reportFailure(c *txCtx, m *ReportFailure) TxResult {
	e, t, why := s.runningTask(m.Exec, m.Task)
	if why != "" {
		return fail(CodeNotFound, "report failure: %s %d/%d", why, m.Exec, m.Task)
	}
	if t.State != taskRunning || e.State != execRunning {
		return fail(CodeBadState, "report failure: task %d/%d is %s", m.Exec, m.Task, taskStateNames[t.State])
	}
	// Only the requester, whose client drives the pipeline, reports: a node
	// that could report a co-worker of its execution would have it
	// blacklisted and its task reassigned, perhaps to itself. The chain
	// sees the other failures itself (missed heartbeats and deadlines).
	if c.tx.Signer != e.Requester {
		return fail(CodeUnauthorized, "report failure: only the requester of execution %d may report its tasks' nodes", m.Exec)
	}
	if c.tx.Signer == t.Node {
		return fail(CodeUnauthorized, "report failure: a node cannot report itself; let the deadline pass")
	}
	c.pay(s)
	return ok(s.failTask(e, int(m.Task), "reported")...)
}

// failTask blacklists the task's node and queues the task for reassignment,
// or fails the execution when attempts are exhausted.
func (s *st) failTask(e *execution, i int, reason string) []Event {
	t := &e.Tasks[i]
	evs := []Event{ev(EventTaskFailed, "exec", utoa(e.ID), "task", itoa(i), "node", t.Node.String(), "reason", reason)}
	if j, found := slices.BinarySearchFunc(e.Blacklist, t.Node, cmpAddr); !found {
		e.Blacklist = slices.Insert(e.Blacklist, j, t.Node)
	}
	t.State, t.Node, t.Deadline, t.AssignAfter = taskPending, Address{}, 0, s.height
	if t.Attempt >= s.params.MaxAttempts {
		evs = append(evs, s.stopExecution(e, execFailed, EventExecutionFailed, "attempts exhausted for task "+itoa(i)))
	}
	return evs
}

// failOffline fails the running tasks of nodes that went offline.
func (s *st) failOffline(off []Address) []Event {
	if len(off) == 0 {
		return nil
	}
	var evs []Event
	for _, id := range slices.Clone(s.active) {
		e := s.execs[id]
		for i := range e.Tasks {
			t := &e.Tasks[i]
			if e.State == execRunning && t.State == taskRunning && slices.Contains(off, t.Node) {
				evs = append(evs, s.failTask(e, i, "offline")...)
			}
		}
	}
	return evs
}

// expireDeadlines fails running tasks whose deadline passed; in a stopped
// execution it cancels them (nothing is reassigned there).
func (s *st) expireDeadlines() []Event {
	var evs []Event
	for _, id := range slices.Clone(s.active) {
		e := s.execs[id]
		for i := range e.Tasks {
			t := &e.Tasks[i]
			if t.State != taskRunning || s.header.TimeUnixNano <= t.Deadline {
				continue
			}
			if e.State == execRunning {
				evs = append(evs, s.failTask(e, i, "deadline")...)
			} else {
				t.State = taskCancelled
				evs = append(evs, ev(EventTaskFailed, "exec", utoa(e.ID), "task", itoa(i), "node", t.Node.String(), "reason", "deadline after stop"))
			}
		}
	}
	return evs
}
