package contract

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// model <signer> <name> [kind=chain|diamond|cycle|dtype|missing|dup] [tasks=N] [cu=N] [vram=GiB]
func (r *runner) model(a args) string {
	signer, name := a.pos[0], a.pos[1]
	cu, vram := a.num("cu", 100), a.num("vram", 2)*GiB
	var m *RegisterModel
	switch kind := a.str("kind", "chain"); kind {
	case "chain":
		m = chainModel(name, int(a.num("tasks", 2)), cu, vram)
	case "diamond":
		m = diamondModel(name, cu, vram)
	case "cycle": // t0 reads t1's output
		m = chainModel(name, 2, cu, vram)
		m.Tasks[0].Inputs = []TensorSpec{m.Tasks[1].Outputs[0]}
	case "dtype": // t1 reads h0 as f16
		m = chainModel(name, 2, cu, vram)
		m.Tasks[1].Inputs[0].DType = "f16"
	case "shape":
		m = chainModel(name, 2, cu, vram)
		m.Tasks[1].Inputs[0].Shape = []int64{-1, 32}
	case "missing": // t1 reads a tensor nobody produces
		m = chainModel(name, 2, cu, vram)
		m.Tasks[1].Inputs[0].Name = "ghost"
	case "dup": // two tasks produce h0
		m = chainModel(name, 3, cu, vram)
		m.Tasks[1].Outputs[0].Name = "h0"
	default:
		return "error: unknown model kind " + kind
	}
	r.h.models[name] = m
	return r.result(r.h.deliver(signer, m))
}

// tx <signer|@node|@validator> <msg> key=value...
func (r *runner) tx(a args) string {
	signer, kind := a.pos[0], a.pos[1]
	msg, errText := r.buildMsg(kind, a)
	if errText != "" {
		return "error: " + errText
	}
	switch signer {
	case "@node":
		signer = r.h.name(r.taskRun(a).Node)
	case "@validator":
		signer = r.h.name(r.taskRun(a).Verify.Validator)
	}
	return signer + ": " + r.result(r.h.deliver(signer, msg))
}

func (r *runner) taskRun(a args) *taskRun {
	e := r.h.s.execs[a.num("exec", 1)]
	if e == nil {
		return &taskRun{}
	}
	return &e.Tasks[a.num("task", 0)]
}

func (r *runner) buildMsg(kind string, a args) (Msg, string) {
	exec, task := a.num("exec", 1), uint32(a.num("task", 0))
	switch kind {
	case "transfer":
		return &Transfer{To: testAddr(a.str("to", "")), Amount: a.num("amount", 0)}, ""
	case "register-node":
		return &RegisterNode{VRAMBytes: a.num("vram", 8) * GiB, Backends: []string{"cpu"},
			P2PAddr: "/ip4/127.0.0.1/tcp/4001", Stake: a.num("stake", 0)}, ""
	case "stake":
		return &Stake{Amount: a.num("amount", 0)}, ""
	case "unstake":
		return &Unstake{Amount: a.num("amount", 0)}, ""
	case "specialize":
		return r.specializeMsg(a.str("tasks", ""))
	case "heartbeat":
		return &Heartbeat{}, ""
	case "request":
		m := r.h.models[a.str("model", "")]
		if m == nil {
			return &RequestExecution{MaxFee: a.num("fee", 0), MaxTokens: uint32(a.num("tokens", 16))}, ""
		}
		return &RequestExecution{Model: m.ModelID(), MaxFee: a.num("fee", 0), MaxTokens: uint32(a.num("tokens", 16))}, ""
	case "cancel":
		return &CancelExecution{Exec: exec}, ""
	case "commit":
		return r.commitMsg(exec, task, a)
	case "report":
		return &ReportFailure{Exec: exec, Task: task, Reason: "stream broken"}, ""
	case "verify":
		spec := r.taskSpec(exec, task)
		return &SubmitVerification{Exec: exec, Task: task, Outputs: roots(spec.Outputs, exec, a.str("out", "honest")),
			Match: a.str("match", "") == "true"}, ""
	case "setparams":
		p, err := withParams(r.h.s.params, a.kv)
		if err != nil {
			return nil, err.Error()
		}
		return &SetParams{Params: p}, ""
	}
	return nil, "unknown msg " + kind
}

func (r *runner) taskSpec(exec uint64, task uint32) *TaskSpec {
	if e := r.h.s.execs[exec]; e != nil && int(task) < len(e.Tasks) {
		return &r.h.s.models[e.Model].Spec.Tasks[task]
	}
	return &TaskSpec{}
}

func (r *runner) commitMsg(exec uint64, task uint32, a args) (Msg, string) {
	spec := r.taskSpec(exec, task)
	return &CommitResult{Exec: exec, Task: task, Steps: uint32(a.num("steps", 16)),
		Inputs:  roots(spec.Inputs, exec, a.str("in", "honest")),
		Outputs: roots(spec.Outputs, exec, a.str("out", "honest"))}, ""
}

// specializeMsg parses "model:task,model:task".
func (r *runner) specializeMsg(list string) (Msg, string) {
	m := &Specialize{}
	for _, item := range strings.Split(list, ",") {
		name, idx, _ := strings.Cut(item, ":")
		mo := r.h.models[name]
		if mo == nil {
			return nil, "unknown model " + name
		}
		i, _ := strconv.Atoi(idx)
		m.Tasks = append(m.Tasks, TaskRef{Model: mo.ModelID(), Task: uint32(i)})
	}
	return m, ""
}

// badtx <forged|wrongchain|replay|future|lowfee|garbage|truncated|pool> <signer>
func (r *runner) badTx(a args) string {
	kind, signer := a.pos[0], a.pos[1]
	key, addr := testKey(signer), testAddr(signer)
	tx := NewTx(testChain, r.h.nonces[addr], 10, &Transfer{To: testAddr("user"), Amount: 1})
	switch kind {
	case "wrongchain":
		tx.ChainID = "other-chain"
	case "replay":
		tx.Nonce = r.h.nonces[addr] - 1
	case "future":
		tx.Nonce += 5
	case "lowfee":
		tx.Fee = 1
	}
	tx.Sign(key)
	raw := EncodeTx(tx)
	switch kind {
	case "forged":
		raw[len(raw)-1] ^= 1
	case "garbage":
		raw = []byte("not a tx at all")
	case "truncated":
		raw = raw[:len(raw)-3]
	case "pool":
		tx.Signer = PoolAddress
		raw = EncodeTx(tx)
	}
	before := r.h.s.Snapshot()
	check := r.h.s.CheckTx(raw)
	res := r.h.s.DeliverTx(raw)
	if !bytes.Equal(before, r.h.s.Snapshot()) {
		return "error: rejected tx changed the state"
	}
	return fmt.Sprintf("check %s\ndeliver %s", r.result(check), r.result(res))
}

// next [n=1] [dt=1s] [beat=n1,n2]: end the open block and begin the next,
// n times; the listed nodes send a heartbeat in every block first.
func (r *runner) next(a args) string {
	var lines []string
	dt := int64(a.num("dt", uint64(Second)))
	for i := uint64(0); i < a.num("n", 1); i++ {
		for _, n := range strings.Split(a.str("beat", ""), ",") {
			if n != "" {
				if res := r.h.deliver(n, &Heartbeat{}); res.Code != CodeOK {
					lines = append(lines, n+" heartbeat: "+r.result(res))
				}
			}
		}
		end, begin := r.h.next(dt)
		for _, e := range end {
			lines = append(lines, fmt.Sprintf("h%d %s", r.h.s.Height()-1, r.h.fmtEvent(e)))
		}
		for _, e := range begin {
			lines = append(lines, fmt.Sprintf("h%d %s", r.h.s.Height(), r.h.fmtEvent(e)))
		}
	}
	lines = append(lines, fmt.Sprintf("-> height %d time %s", r.h.s.Height(), r.h.relTime(strconv.FormatInt(r.h.s.header.TimeUnixNano, 10))))
	return strings.Join(lines, "\n")
}
