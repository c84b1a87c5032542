package contract

import (
	"math/rand"
)

// txGen produces random txs, mostly plausible ones that reach deep states,
// plus malformed, mis-signed and out-of-order ones.
type txGen struct {
	h     *harness
	rng   *rand.Rand
	codes map[uint32]int // result codes seen
}

// heartbeats returns heartbeat txs of most registered nodes.
func (g *txGen) heartbeats() [][]byte {
	var out [][]byte
	for _, n := range genNodes {
		if g.h.s.nodes[testAddr(n)] != nil && g.rng.Intn(10) != 0 {
			tx := NewTx(testChain, g.h.nonces[testAddr(n)], 10, &Heartbeat{})
			tx.Sign(testKey(n))
			out = append(out, EncodeTx(tx))
		}
	}
	return out
}

var genNodes = []string{"n1", "n2", "n3", "n4", "n5", "n6"}

// setup registers two models; nodes register and specialise randomly later.
func (g *txGen) setup() {
	for _, m := range []*RegisterModel{chainModel("pipe", 3, 10, 1*GiB), diamondModel("dia", 10, 1*GiB)} {
		g.h.models[m.Name] = m
	}
}

func (g *txGen) pick(xs []string) string { return xs[g.rng.Intn(len(xs))] }

func (g *txGen) amount() uint64 {
	switch g.rng.Intn(5) {
	case 0:
		return uint64(g.rng.Int63())
	case 1:
		return ^uint64(0) - uint64(g.rng.Intn(20))
	}
	return uint64(g.rng.Intn(3000)) * Token / 1000
}

type signedMsg struct {
	signer string
	msg    Msg
}

// warmup registers both models and six nodes specialised in them.
func (g *txGen) warmup() []signedMsg {
	out := []signedMsg{{"dev", g.h.models["pipe"]}, {"dev", g.h.models["dia"]}}
	for i, n := range genNodes {
		mo := g.h.models[[]string{"pipe", "dia"}[i%2]]
		sp := &Specialize{}
		for j := range mo.Tasks {
			sp.Tasks = append(sp.Tasks, TaskRef{Model: mo.ModelID(), Task: uint32(j)})
		}
		out = append(out, signedMsg{n, &RegisterNode{VRAMBytes: 4 * GiB, Backends: []string{"cpu"}, P2PAddr: "/p2p/" + n, Stake: 1500 * Token}},
			signedMsg{n, sp})
	}
	return out
}

// sign signs msg with signer's expected nonce.
func (g *txGen) sign(signer string, msg Msg) []byte {
	tx := NewTx(testChain, g.h.nonces[testAddr(signer)], 10, msg)
	tx.Sign(testKey(signer))
	return EncodeTx(tx)
}

// next returns the raw bytes of the next tx (signed with the signer's
// expected nonce unless it deliberately is not).
func (g *txGen) next() []byte {
	signer, msg := g.msg()
	a := testAddr(signer)
	nonce := g.h.nonces[a]
	fee := uint64(10)
	switch g.rng.Intn(40) {
	case 0:
		nonce++
	case 1:
		fee = 0
	case 2:
		return []byte{byte(g.rng.Intn(256)), 'S', 'U'}
	}
	tx := NewTx(testChain, nonce, fee, msg)
	tx.Sign(testKey(signer))
	if g.rng.Intn(50) == 0 {
		tx.Signature[3] ^= 0x40
	}
	return EncodeTx(tx)
}

// delivered records that a tx used its nonce (it succeeded, or only its
// message failed).
func (g *txGen) delivered(raw []byte) {
	tx, err := DecodeTx(raw)
	if err == nil {
		g.h.nonces[tx.Signer]++
	}
}

func (g *txGen) msg() (string, Msg) {
	s := g.h.s
	node := g.pick(genNodes)
	switch g.rng.Intn(17) {
	case 0:
		return g.pick(actorNames), &Transfer{To: testAddr(g.pick(actorNames)), Amount: g.amount()}
	case 1:
		return "dev", g.h.models[g.pick([]string{"pipe", "dia"})]
	case 2:
		vram := uint64(1 + g.rng.Intn(8))
		return node, &RegisterNode{VRAMBytes: vram * GiB, Backends: []string{"cpu"}, P2PAddr: "/p2p/x", Stake: (1000 + 100*vram + uint64(g.rng.Intn(600)) - 100) * Token}
	case 3:
		return node, &Stake{Amount: g.amount()}
	case 4:
		return node, &Unstake{Amount: g.amount() / 8}
	case 5:
		return node, g.specialize()
	case 6, 7:
		return node, &Heartbeat{}
	case 8:
		return g.request()
	case 9:
		return g.pick([]string{"user", "user2"}), &CancelExecution{Exec: uint64(1 + g.rng.Intn(int(s.nextExec)))}
	case 10, 11, 12:
		return g.commit()
	case 13, 14:
		return g.verify()
	case 15:
		p := g.h.s.params
		p.VerifyPPM = uint32(g.rng.Intn(PPM + 1))
		p.RewardBP = uint32(g.rng.Intn(4 * BP))
		p.SlashBP = uint32(g.rng.Intn(40 * BP))
		return g.pick([]string{"auth", "auth", "user"}), &SetParams{Params: p}
	}
	exec, task := g.execTask()
	return g.pick(actorNames), &ReportFailure{Exec: exec, Task: task, Reason: "random"}
}

func (g *txGen) specialize() *Specialize {
	m := &Specialize{}
	if g.rng.Intn(2) == 0 {
		mo := g.h.models[g.pick([]string{"pipe", "dia"})]
		for i := range mo.Tasks {
			m.Tasks = append(m.Tasks, TaskRef{Model: mo.ModelID(), Task: uint32(i)})
		}
		return m
	}
	for i := g.rng.Intn(4); i > 0; i-- {
		mo := g.h.models[g.pick([]string{"pipe", "dia"})]
		m.Tasks = append(m.Tasks, TaskRef{Model: mo.ModelID(), Task: uint32(g.rng.Intn(len(mo.Tasks) + 1))})
	}
	return m
}

// execTask picks a task, usually one of an unsettled execution.
func (g *txGen) execTask() (uint64, uint32) {
	if act := g.h.s.active; len(act) > 0 && g.rng.Intn(5) != 0 {
		e := g.h.s.execs[act[g.rng.Intn(len(act))]]
		return e.ID, uint32(g.rng.Intn(len(e.Tasks)))
	}
	return uint64(1 + g.rng.Intn(int(g.h.s.nextExec))), uint32(g.rng.Intn(4))
}

// taskIn picks a task of an unsettled execution in one of the states, if any.
func (g *txGen) taskIn(states ...uint8) (uint64, uint32, bool) {
	type ref struct {
		e uint64
		t uint32
	}
	var refs []ref
	for _, id := range g.h.s.active {
		for i, t := range g.h.s.execs[id].Tasks {
			for _, st := range states {
				if t.State == st || (st == 0 && (t.Verify.State == vFirst || t.Verify.State == vTie)) {
					refs = append(refs, ref{id, uint32(i)})
				}
			}
		}
	}
	if len(refs) == 0 || g.rng.Intn(6) == 0 {
		e, t := g.execTask()
		return e, t, false
	}
	r := refs[g.rng.Intn(len(refs))]
	return r.e, r.t, true
}

// commit usually comes from the assigned node with honest roots.
func (g *txGen) commit() (string, Msg) {
	exec, task, _ := g.taskIn(taskRunning)
	signer := g.pick(genNodes)
	variant := g.pick([]string{"honest", "honest", "honest", "lie"})
	spec := &TaskSpec{Inputs: []TensorSpec{{Name: "x"}}, Outputs: []TensorSpec{{Name: "y"}}}
	steps := uint32(1 + g.rng.Intn(32))
	if e := g.h.s.execs[exec]; e != nil && int(task) < len(e.Tasks) {
		spec = &g.h.s.models[e.Model].Spec.Tasks[task]
		if g.rng.Intn(2) == 0 {
			steps = e.MaxTokens
		}
		if g.rng.Intn(5) != 0 {
			signer = g.h.name(e.Tasks[task].Node)
		}
	}
	if signer == "-" {
		signer = "n1"
	}
	return signer, &CommitResult{Exec: exec, Task: task, Steps: steps,
		Inputs: roots(spec.Inputs, exec, "honest"), Outputs: roots(spec.Outputs, exec, variant)}
}

// verify usually comes from the drawn validator.
func (g *txGen) verify() (string, Msg) {
	exec, task, _ := g.taskIn(0)
	signer := g.pick(genNodes)
	spec := &TaskSpec{Outputs: []TensorSpec{{Name: "y"}}}
	if e := g.h.s.execs[exec]; e != nil && int(task) < len(e.Tasks) {
		spec = &g.h.s.models[e.Model].Spec.Tasks[task]
		if v := e.Tasks[task].Verify.Validator; v != (Address{}) && g.rng.Intn(5) != 0 {
			signer = g.h.name(v)
		}
	}
	return signer, &SubmitVerification{Exec: exec, Task: task, Outputs: roots(spec.Outputs, exec, g.pick([]string{"honest", "lie"})), Match: g.rng.Intn(4) == 0}
}

// request asks for an execution, often with exactly the required escrow so
// that no slack hides an accounting error.
func (g *txGen) request() (string, Msg) {
	m := g.h.models[g.pick([]string{"pipe", "dia"})]
	tokens := uint32(1 + g.rng.Intn(32))
	fee := g.amount()
	if mo := g.h.s.models[m.ModelID()]; mo != nil && g.rng.Intn(2) == 0 {
		_, _, fee, _ = g.h.s.quote(mo, tokens)
	}
	return g.pick([]string{"user", "user2"}), &RequestExecution{Model: m.ModelID(), MaxFee: fee, MaxTokens: tokens}
}
