package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// balances name...: balance, stake and unbonding of each, plus pool and supply.
func (r *runner) balances(a args) string {
	var lines []string
	for _, n := range a.pos {
		addr := testAddr(n)
		if n == "pool" {
			addr = PoolAddress
		}
		line := fmt.Sprintf("%s: balance=%d", n, r.h.s.balance(addr))
		if nd := r.h.s.nodes[addr]; nd != nil {
			var unb uint64
			for _, u := range nd.Unbonding {
				unb += u.Amount
			}
			line += fmt.Sprintf(" stake=%d unbonding=%d", nd.Stake, unb)
		}
		lines = append(lines, line)
	}
	lines = append(lines, fmt.Sprintf("supply=%d", r.h.s.Supply()))
	return strings.Join(lines, "\n")
}

// exec <id>: compact execution status.
func (r *runner) exec(a args) string {
	e := r.h.s.execs[parseAmount(a.pos[0])]
	if e == nil {
		return "no such execution"
	}
	lines := []string{fmt.Sprintf("exec %d %s escrow=%d blacklist=%s", e.ID, execStateNames[e.State], e.Escrow, r.names(e.Blacklist))}
	for i, t := range e.Tasks {
		v := t.Verify
		line := fmt.Sprintf("  task %d %s node=%s attempt=%d deadline=%s paid=%d verify=%s validator=%s tried=%s forfeit=%v",
			i, taskStateNames[t.State], r.h.name(t.Node), t.Attempt, r.h.relTime(itoa64(t.Deadline)), t.Commit.Payment,
			verifyStateNames[v.State], r.h.name(v.Validator), r.names(v.Tried), v.Forfeit || v.Unpaid)
		if v.Disputed {
			line += " disputed"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (r *runner) names(as []Address) string {
	var out []string
	for _, a := range as {
		out = append(out, r.h.name(a))
	}
	return "[" + strings.Join(out, ",") + "]"
}

// node <name>: node status.
func (r *runner) node(a args) string {
	n := r.h.s.nodes[testAddr(a.pos[0])]
	if n == nil {
		return "no such node"
	}
	return fmt.Sprintf("%s online=%v eligible=%v stake=%d tasks=%d", a.pos[0], n.Online, r.h.s.eligible(n), n.Stake, len(n.Tasks))
}

// verifications NAME: the open verification requests of validator NAME,
// through the "verifications/" query.
// query <path>: the answer of a state query; errors only here, for the
// answers are JSON too long to keep in a scenario.
func (r *runner) query(a args) string {
	b, err := r.h.s.Query(a.pos[0], nil)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("ok (%d bytes)", len(b))
}

func (r *runner) verifications(a args) string {
	b, err := r.h.s.Query("verifications/"+testAddr(a.pos[0]).String(), nil)
	if err != nil {
		return "error: " + err.Error()
	}
	var vs []VerificationInfo
	if err := json.Unmarshal(b, &vs); err != nil {
		return "error: " + err.Error()
	}
	var lines []string
	for _, v := range vs {
		lines = append(lines, fmt.Sprintf("exec %d task %d asserter=%s stage=%d deadline=%s", v.Exec, v.Task, r.h.name(v.Asserter), v.Stage, r.h.relTime(itoa64(v.Deadline))))
	}
	return strings.Join(lines, "\n")
}

// check: the supply is unchanged and the snapshot round-trips.
func (r *runner) check() string {
	snap := r.h.s.Snapshot()
	s2, err := LoadState(snap)
	if err != nil {
		return "error: load snapshot: " + err.Error()
	}
	if !bytes.Equal(s2.Snapshot(), snap) || s2.AppHash() != r.h.s.AppHash() {
		return "error: snapshot does not round-trip"
	}
	if !slices.Equal(s2.active, r.h.s.active) || !slices.Equal(s2.closed, r.h.s.closed) {
		return "error: derived lists differ after a load"
	}
	if r.h.s.Supply() != r.h.supply {
		return fmt.Sprintf("error: supply %d, genesis %d", r.h.s.Supply(), r.h.supply)
	}
	return "ok"
}
