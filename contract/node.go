package contract

import (
	"cmp"
	"slices"
)

// node is a registered worker.
type node struct {
	Addr       Address
	VRAMBytes  uint64
	Backends   []string
	P2PAddr    string
	Stake      uint64
	Unbonding  []unbond
	Tasks      []TaskRef // sorted, unique
	LastBeat   int64     // block time of the last heartbeat (ns)
	Online     bool
	Registered int64 // height
}

// unbond is stake on its way back to the balance.
type unbond struct {
	Amount  uint64
	Release int64 // block time (ns)
}

const (
	maxBackends  = 16
	maxUnbonding = 64
	maxSpecial   = 256
)

func cmpTaskRef(a, b TaskRef) int {
	if c := cmpBytes(a.Model[:], b.Model[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.Task, b.Task)
}

// eligible reports whether n can take work: online and staked enough.
func (s *st) eligible(n *node) bool {
	req, ok := s.params.requiredStake(n.VRAMBytes)
	return n.Online && ok && n.Stake >= req
}

func (n *node) specialised(r TaskRef) bool {
	_, found := slices.BinarySearchFunc(n.Tasks, r, cmpTaskRef)
	return found
}

func (s *st) registerNode(c *txCtx, m *RegisterNode) TxResult {
	if s.nodes[c.tx.Signer] != nil {
		return fail(CodeExists, "register node: %s already registered", c.tx.Signer)
	}
	if m.VRAMBytes == 0 || m.VRAMBytes > 1<<50 {
		return fail(CodeInvalidMsg, "register node: vram_bytes must be 1..2^50")
	}
	if len(m.Backends) == 0 || len(m.Backends) > maxBackends || slices.Contains(m.Backends, "") || m.P2PAddr == "" {
		return fail(CodeInvalidMsg, "register node: need 1..%d non-empty backends and a p2p address", maxBackends)
	}
	req, okReq := s.params.requiredStake(m.VRAMBytes)
	if !okReq || m.Stake < req {
		return fail(CodeStakeTooLow, "register node: stake %d < required %d (base + per-GiB × VRAM)", m.Stake, req)
	}
	if m.Stake > c.avail {
		return fail(CodeInsufficient, "register node: stake %d exceeds spendable balance %d", m.Stake, c.avail)
	}
	c.pay(s)
	s.debit(c.tx.Signer, m.Stake)
	s.nodeKeyCache = insertKey(s.nodeKeyCache, c.tx.Signer)
	s.nodes[c.tx.Signer] = &node{
		Addr: c.tx.Signer, VRAMBytes: m.VRAMBytes, Backends: slices.Clone(m.Backends),
		P2PAddr: m.P2PAddr, Stake: m.Stake, LastBeat: s.header.TimeUnixNano,
		Online: true, Registered: s.height,
	}
	return ok(ev(EventNodeRegistered, "node", c.tx.Signer.String(), "stake", utoa(m.Stake), "vram", utoa(m.VRAMBytes)))
}

func (s *st) stake(c *txCtx, m *Stake) TxResult {
	n := s.nodes[c.tx.Signer]
	if n == nil {
		return fail(CodeNotFound, "stake: %s is not a registered node", c.tx.Signer)
	}
	if m.Amount == 0 || m.Amount > c.avail {
		return fail(CodeInsufficient, "stake: amount %d must be 1..spendable balance %d", m.Amount, c.avail)
	}
	c.pay(s)
	s.debit(c.tx.Signer, m.Amount)
	n.Stake += m.Amount // cannot overflow: bounded by the supply
	return ok()
}

func (s *st) unstake(c *txCtx, m *Unstake) TxResult {
	n := s.nodes[c.tx.Signer]
	if n == nil {
		return fail(CodeNotFound, "unstake: %s is not a registered node", c.tx.Signer)
	}
	if m.Amount == 0 || m.Amount > n.Stake {
		return fail(CodeInsufficient, "unstake: amount %d must be 1..stake %d", m.Amount, n.Stake)
	}
	if len(n.Unbonding) >= maxUnbonding {
		return fail(CodeBadState, "unstake: %d unbonding entries pending; wait for release", len(n.Unbonding))
	}
	c.pay(s)
	n.Stake -= m.Amount
	n.Unbonding = append(n.Unbonding, unbond{Amount: m.Amount, Release: satAdd(s.header.TimeUnixNano, s.params.UnbondingNanos)})
	return ok()
}

func (s *st) specialize(c *txCtx, m *Specialize) TxResult {
	n := s.nodes[c.tx.Signer]
	if n == nil {
		return fail(CodeNotFound, "specialize: %s is not a registered node", c.tx.Signer)
	}
	if len(m.Tasks) > maxSpecial {
		return fail(CodeInvalidMsg, "specialize: at most %d tasks", maxSpecial)
	}
	refs := slices.Clone(m.Tasks)
	slices.SortFunc(refs, cmpTaskRef)
	var vram uint64
	for i, r := range refs {
		if i > 0 && cmpTaskRef(refs[i-1], r) == 0 {
			return fail(CodeInvalidMsg, "specialize: task %s/%d listed twice", r.Model, r.Task)
		}
		mo := s.models[r.Model]
		if mo == nil || int(r.Task) >= len(mo.Spec.Tasks) {
			return fail(CodeNotFound, "specialize: unknown task %s/%d", r.Model, r.Task)
		}
		vram += mo.Spec.Tasks[r.Task].VRAMBytes // ≤ 256 × 2^50: no overflow
	}
	if vram > n.VRAMBytes {
		return fail(CodeInsufficient, "specialize: tasks need %d bytes of VRAM, node declares %d", vram, n.VRAMBytes)
	}
	if req, _ := s.params.requiredStake(n.VRAMBytes); n.Stake < req {
		return fail(CodeStakeTooLow, "specialize: stake %d < required %d", n.Stake, req)
	}
	c.pay(s)
	n.Tasks = refs
	return ok()
}

func (s *st) heartbeat(c *txCtx, _ *Heartbeat) TxResult {
	n := s.nodes[c.tx.Signer]
	if n == nil {
		return fail(CodeNotFound, "heartbeat: %s is not a registered node", c.tx.Signer)
	}
	c.pay(s)
	n.LastBeat = s.header.TimeUnixNano
	if !n.Online {
		n.Online = true
		return ok(ev(EventNodeOnline, "node", n.Addr.String()))
	}
	return ok()
}

// releaseUnbonding returns matured unbonding stake to balances, except a
// node's while a pending verdict may still slash it (see bound).
func (s *st) releaseUnbonding() []Event {
	var evs []Event
	var held map[Address]bool // built at the first matured entry
	for _, a := range s.nodeKeys() {
		n := s.nodes[a]
		keep := n.Unbonding[:0]
		var released uint64
		for _, u := range n.Unbonding {
			matured := u.Release <= s.header.TimeUnixNano
			if matured && held == nil {
				held = s.bound()
			}
			if matured && !held[a] {
				released += u.Amount
			} else {
				keep = append(keep, u)
			}
		}
		n.Unbonding = keep
		if len(keep) == 0 {
			n.Unbonding = nil
		}
		if released > 0 {
			s.credit(a, released)
			evs = append(evs, ev(EventStakeReleased, "node", a.String(), "amount", utoa(released)))
		}
	}
	return evs
}

// expireNodes marks nodes that missed MissedBeats heartbeat intervals offline
// and returns their addresses with the events.
func (s *st) expireNodes() ([]Address, []Event) {
	limit := satMul(s.params.HeartbeatNanos, int64(s.params.MissedBeats))
	var off []Address
	var evs []Event
	for _, a := range s.nodeKeys() {
		n := s.nodes[a]
		if n.Online && s.header.TimeUnixNano-n.LastBeat > limit {
			n.Online = false
			off = append(off, a)
			evs = append(evs, ev(EventNodeOffline, "node", a.String()))
		}
	}
	return off, evs
}

// bound lists the nodes a pending verdict may slash: the node of a
// committed task not yet drawn or whose verification is unresolved, and
// the validators of an unresolved verification (a tie-breaker may find
// against them). Their unbonding stake stays until that is over. A node
// merely busy with other work is not held: a task not drawn for
// verification can no longer cost it stake.
func (s *st) bound() map[Address]bool {
	b := map[Address]bool{}
	for _, id := range s.active {
		for i := range s.execs[id].Tasks {
			t := &s.execs[id].Tasks[i]
			if t.State != taskCommitted {
				continue
			}
			switch v := &t.Verify; v.State {
			case vUndrawn, vNeedFirst:
				b[t.Node] = true
			case vFirst, vTie:
				b[t.Node], b[v.Validator], b[v.First] = true, true, true
			case vNeedTie:
				b[t.Node], b[v.First] = true, true
			}
		}
	}
	return b
}
