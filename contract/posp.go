package contract

import (
	"math"
	"math/bits"
	"slices"
)

// Verification states of a committed task.
const (
	vUndrawn   uint8 = 0 // draw at a height after the commitment
	vSkipped   uint8 = 1 // not drawn, or no validator available
	vNeedFirst uint8 = 2 // drawn; pick a validator at a height after After
	vFirst     uint8 = 3 // waiting for the first validator
	vNeedTie   uint8 = 4 // first validator disagreed; pick a tie-breaker
	vTie       uint8 = 5 // waiting for the tie-breaker
	vDone      uint8 = 6 // resolved
)

var verifyStateNames = [...]string{"undrawn", "skipped", "need-validator", "validating", "need-tiebreaker", "tiebreaking", "done"}

// verification is the PoSP record of one committed task.
type verification struct {
	State     uint8
	Forfeit   bool      // asserter loses the payment (refunded to the user)
	Disputed  bool      // the commitment disagrees with another task's: verified whatever the draw
	Unpaid    bool      // disputed, and no contradicting task was caught cheating: not paid
	After     int64     // pick the next validator at a height > After
	Validator Address   // current validator
	Deadline  int64     // block time (ns) for the current validator
	Tried     []Address // validators picked so far, in order
	First     Address   // the first validator, once it disagreed
}

// drawVerifications draws p for tasks committed in earlier blocks and picks
// validators for drawn tasks.
func (s *st) drawVerifications() []Event {
	var evs []Event
	for _, id := range slices.Clone(s.active) {
		e := s.execs[id]
		for i := range e.Tasks {
			t := &e.Tasks[i]
			if t.State != taskCommitted {
				continue
			}
			v := &t.Verify
			if v.State == vUndrawn && t.Commit.Height < s.height {
				v.State, v.After = vSkipped, t.Commit.Height
				if v.Disputed || s.drawn(e.ID, i) {
					v.State = vNeedFirst
				}
			}
			if (v.State == vNeedFirst || v.State == vNeedTie) && v.After < s.height {
				evs = append(evs, s.pickValidator(e, i)...)
			}
		}
	}
	return evs
}

// drawn reports whether hash(beacon ‖ exec ‖ task) falls below p.
func (s *st) drawn(exec uint64, task int) bool {
	hi, _ := bits.Mul64(s.draw("splitup/posp", exec, uint64(task)), PPM)
	return hi < uint64(s.params.VerifyPPM)
}

// pickValidator assigns a validator (never the asserter nor one tried before).
func (s *st) pickValidator(e *execution, i int) []Event {
	t := &e.Tasks[i]
	v := &t.Verify
	stage := uint64(1)
	if v.State == vNeedTie {
		stage = 2
	}
	cands := s.candidates(TaskRef{Model: e.Model, Task: uint32(i)}, []Address{t.Node}, v.Tried)
	if len(cands) == 0 || len(v.Tried) >= 2*int(s.params.MaxAttempts) {
		return s.noValidator(e, i)
	}
	a, _ := s.weightedPick(cands, s.draw("splitup/validator", e.ID, uint64(i), uint64(len(v.Tried))))
	v.Validator, v.Tried = a, append(v.Tried, a)
	v.Deadline = satAdd(s.header.TimeUnixNano, s.taskDuration(s.models[e.Model], i, e.MaxTokens))
	v.State = vFirst
	if stage == 2 {
		v.State = vTie
	}
	return []Event{ev(EventVerificationRequested, "exec", utoa(e.ID), "task", itoa(i), "validator", a.String(),
		"asserter", t.Node.String(), "stage", utoa(stage), "deadline", itoa64(v.Deadline))}
}

// noValidator resolves a draw nobody can check: unverified if no first
// validator, unresolved (asserter unpaid, nobody slashed) if no tie-breaker.
func (s *st) noValidator(e *execution, i int) []Event {
	v := &e.Tasks[i].Verify
	result := "unverified"
	if v.State == vNeedTie {
		v.State, v.Forfeit, result = vDone, true, "unresolved"
	} else {
		v.State = vSkipped
	}
	return []Event{ev(EventVerificationResult, "exec", utoa(e.ID), "task", itoa(i), "result", result)}
}

// expireValidators queues a new pick (in a later block) for validators that
// missed their deadline; they earn nothing and are not picked again for the task.
func (s *st) expireValidators() []Event {
	var evs []Event
	for _, id := range s.active {
		e := s.execs[id]
		for i := range e.Tasks {
			v := &e.Tasks[i].Verify
			if (v.State == vFirst || v.State == vTie) && s.header.TimeUnixNano > v.Deadline {
				evs = append(evs, s.resultEvent(e, i, "timeout", v.Validator, 0))
				v.State-- // vFirst → vNeedFirst, vTie → vNeedTie
				v.After, v.Validator = s.height, Address{}
			}
		}
	}
	return evs
}

func (s *st) submitVerification(c *txCtx, m *SubmitVerification) TxResult {
	e, t, why := s.runningTask(m.Exec, m.Task)
	if why != "" {
		return fail(CodeNotFound, "verify: %s %d/%d", why, m.Exec, m.Task)
	}
	v := &t.Verify
	if t.State != taskCommitted || (v.State != vFirst && v.State != vTie) {
		return fail(CodeBadState, "verify: task %d/%d is %s/%s", m.Exec, m.Task, taskStateNames[t.State], verifyStateNames[v.State])
	}
	if v.Validator != c.tx.Signer {
		return fail(CodeUnauthorized, "verify: %s is not the validator of task %d/%d", c.tx.Signer, m.Exec, m.Task)
	}
	if r := sameNames(m.Outputs, s.models[e.Model].Spec.Tasks[m.Task].Outputs); r != "" {
		return fail(CodeInvalidMsg, "verify: outputs: %s", r)
	}
	c.pay(s)
	agree := m.Match || slices.Equal(m.Outputs, t.Commit.Outputs)
	if v.State == vFirst {
		return ok(s.firstVerdict(e, int(m.Task), agree)...)
	}
	return ok(s.tieVerdict(e, int(m.Task), agree)...)
}

func (s *st) firstVerdict(e *execution, i int, agree bool) []Event {
	t := &e.Tasks[i]
	v := &t.Verify
	if agree {
		v.State = vDone
		reward := s.reward(t.Commit.Payment)
		paid := min(reward, s.balance(PoolAddress))
		s.debit(PoolAddress, paid)
		s.credit(v.Validator, paid)
		return []Event{s.resultEvent(e, i, "match", v.Validator, paid)}
	}
	v.First, v.State, v.After, v.Validator = v.Validator, vNeedTie, s.height, Address{}
	return []Event{s.resultEvent(e, i, "mismatch", v.First, 0)}
}

// tieVerdict settles a dispute: the side the tie-breaker agrees with wins;
// the loser is slashed S × payment, each honest validator is rewarded
// Rv × payment from the slashed stake, and the rest goes to the pool.
func (s *st) tieVerdict(e *execution, i int, agreeAsserter bool) []Event {
	t := &e.Tasks[i]
	v := &t.Verify
	v.State = vDone
	loser, winners, result := v.First, []Address{v.Validator}, "asserter-honest"
	if !agreeAsserter {
		loser, winners, result = t.Node, []Address{v.First, v.Validator}, "asserter-cheated"
		v.Forfeit = true
	}
	slashAmt, fits := mulDiv(t.Commit.Payment, uint64(s.params.SlashBP), BP)
	if !fits {
		slashAmt = math.MaxUint64 // capped by the stake below
	}
	taken := s.slash(loser, slashAmt)
	evs := []Event{s.resultEvent(e, i, result, v.Validator, 0),
		ev(EventSlashed, "node", loser.String(), "amount", utoa(taken), "exec", utoa(e.ID), "task", itoa(i))}
	reward := s.reward(t.Commit.Payment)
	for _, w := range winners {
		r := min(reward, taken)
		taken -= r
		s.credit(w, r)
		evs = append(evs, s.resultEvent(e, i, "reward", w, r))
	}
	s.credit(PoolAddress, taken)
	return evs
}

// reward is Rv × payment.
func (s *st) reward(payment uint64) uint64 {
	r, okMul := mulDiv(payment, uint64(s.params.RewardBP), BP)
	if !okMul {
		return 0
	}
	return r
}

func (s *st) resultEvent(e *execution, i int, result string, who Address, amount uint64) Event {
	return ev(EventVerificationResult, "exec", utoa(e.ID), "task", itoa(i), "result", result,
		"validator", who.String(), "amount", utoa(amount))
}

// slash removes up to amount from a's stake, then from its unbonding
// entries (oldest first), and returns what was taken.
func (s *st) slash(a Address, amount uint64) uint64 {
	n := s.nodes[a]
	if n == nil {
		return 0
	}
	take := min(amount, n.Stake)
	n.Stake -= take
	for j := range n.Unbonding {
		u := &n.Unbonding[j]
		more := min(amount-take, u.Amount)
		u.Amount -= more
		take += more
	}
	n.Unbonding = slices.DeleteFunc(n.Unbonding, func(u unbond) bool { return u.Amount == 0 })
	if len(n.Unbonding) == 0 {
		n.Unbonding = nil
	}
	return take
}
