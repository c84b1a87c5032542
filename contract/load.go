package contract

import (
	"cmp"
	"fmt"
	"slices"
)

// checkLoaded validates the semantics of a decoded snapshot and rebuilds
// the derived fields, so that no later call can panic on it.
func (s *st) checkLoaded() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: snapshot: %s", ErrDecode, fmt.Sprintf(format, args...))
	}
	if s.chainID == "" || s.header.ChainID != s.chainID || s.header.Height != s.height || s.height < 0 {
		return bad("chain id or height inconsistent")
	}
	if err := s.params.Validate(); err != nil {
		return bad("params: %v", err)
	}
	if _, fits := s.supply(); !fits {
		return bad("total supply overflows")
	}
	for _, id := range sortedKeys(s.models, cmpHash) {
		m := s.models[id]
		g, reason := validateModel(&m.Spec)
		if reason != "" || modelID(&m.Spec) != id {
			return bad("model %s invalid", id)
		}
		m.dag = g
	}
	for _, a := range s.nodeKeys() {
		if !slices.IsSortedFunc(s.nodes[a].Tasks, cmpTaskRef) {
			return bad("node %s tasks unsorted", a)
		}
	}
	s.active, s.closed = nil, nil
	for _, id := range sortedKeys(s.execs, cmpU64) {
		if err := s.checkExec(s.execs[id]); err != "" {
			return bad("execution %d: %s", id, err)
		}
		if s.execs[id].State != execSettled {
			s.active = append(s.active, id)
		} else {
			s.closed = append(s.closed, id)
		}
	}
	slices.SortStableFunc(s.closed, func(a, b uint64) int { return cmp.Compare(s.execs[a].Closed, s.execs[b].Closed) })
	return nil
}

func (s *st) checkExec(x *execution) string {
	m := s.models[x.Model]
	switch {
	case x.ID == 0 || x.ID >= s.nextExec:
		return "id out of range"
	case m == nil || len(x.Tasks) != len(m.Spec.Tasks):
		return "model missing or task count differs"
	case x.State < execRunning || x.State > execSettled || x.MaxTokens == 0:
		return "bad state"
	case x.Closed != 0 && x.State != execSettled:
		return "closed time on an unsettled execution"
	case !slices.IsSortedFunc(x.Blacklist, cmpAddr):
		return "blacklist unsorted"
	}
	var owed uint64
	for i := range x.Tasks {
		t := &x.Tasks[i]
		var due uint64
		var fits bool
		switch t.State {
		case taskPending, taskRunning:
			if due, fits = add(t.Price, t.Surcharge); !fits {
				return "task reservation overflows"
			}
		case taskCommitted:
			due = t.Commit.Payment
		}
		if owed, fits = add(owed, due); !fits {
			return "escrow obligations overflow"
		}
		if t.State < taskPending || t.State > taskSettled || t.Verify.State > vDone || t.Commit.Steps > x.MaxTokens {
			return fmt.Sprintf("task %d: bad state", i)
		}
		if t.hasCommit() && (sameNames(t.Commit.Inputs, m.Spec.Tasks[i].Inputs) != "" || sameNames(t.Commit.Outputs, m.Spec.Tasks[i].Outputs) != "") {
			return fmt.Sprintf("task %d: commitment does not match the task", i)
		}
		if t.Commit.Payment > t.Price || t.Attempt > maxAttemptCap {
			return fmt.Sprintf("task %d: payment or attempts out of range", i)
		}
	}
	if x.Escrow < owed {
		return "escrow below what its tasks may still be paid"
	}
	return ""
}

// supply is the total of balances, stakes, unbonding stake and escrows, and
// whether it fits in uint64.
func (s *st) supply() (uint64, bool) {
	var total uint64
	fits := true
	addTo := func(v uint64) {
		var okAdd bool
		total, okAdd = add(total, v)
		fits = fits && okAdd
	}
	for _, a := range s.accountKeys() {
		addTo(s.accounts[a].Balance)
	}
	for _, a := range s.nodeKeys() {
		n := s.nodes[a]
		addTo(n.Stake)
		for _, u := range n.Unbonding {
			addTo(u.Amount)
		}
	}
	for _, id := range sortedKeys(s.execs, cmpU64) {
		addTo(s.execs[id].Escrow)
	}
	return total, fits
}
