package contract

import (
	"bytes"
	"fmt"
)

func (s *st) snapshot() []byte {
	e := &encoder{b: make([]byte, 0, 4096+48*len(s.accounts)+256*len(s.nodes)+1024*len(s.execs))}
	e.b = append(e.b, snapMagic...)
	e.u8(snapVersion)
	e.str(s.chainID)
	e.i64(s.height)
	e.str(s.header.ChainID)
	e.i64(s.header.Height)
	e.i64(s.header.TimeUnixNano)
	e.h(s.header.Beacon)
	encodeParams(e, &s.params)
	encodeAddrs(e, s.authorities)
	e.u64(s.nextExec)
	e.list(len(s.accounts))
	for _, a := range s.accountKeys() {
		e.h(a)
		e.u64(s.accounts[a].Balance)
		e.u64(s.accounts[a].Nonce)
	}
	e.list(len(s.models))
	for _, id := range sortedKeys(s.models, cmpHash) {
		m := s.models[id]
		e.h(m.ID)
		e.h(m.Owner)
		e.i64(m.Height)
		m.Spec.encodeMsg(e)
	}
	e.list(len(s.nodes))
	for _, a := range s.nodeKeys() {
		encodeNode(e, s.nodes[a])
	}
	e.list(len(s.execs))
	for _, id := range sortedKeys(s.execs, cmpU64) {
		encodeExec(e, s.execs[id])
	}
	return e.b
}

func (s *st) appHash() [32]byte { return sha(s.snapshot()) }

func encodeAddrs(e *encoder, as []Address) {
	e.list(len(as))
	for _, a := range as {
		e.h(a)
	}
}

func decodeAddrs(d *decoder) []Address {
	n := d.list(32)
	if n == 0 {
		return nil
	}
	out := make([]Address, n)
	for i := range out {
		out[i] = d.h()
	}
	return out
}

func encodeNode(e *encoder, n *node) {
	e.h(n.Addr)
	(&RegisterNode{VRAMBytes: n.VRAMBytes, Backends: n.Backends, P2PAddr: n.P2PAddr, Stake: n.Stake}).encodeMsg(e)
	e.list(len(n.Unbonding))
	for _, u := range n.Unbonding {
		e.u64(u.Amount)
		e.i64(u.Release)
	}
	(&Specialize{Tasks: n.Tasks}).encodeMsg(e)
	e.i64(n.LastBeat)
	e.flag(n.Online)
	e.i64(n.Registered)
}

func decodeNode(d *decoder) *node {
	n := &node{Addr: d.h()}
	r := decodeRegisterNode(d)
	n.VRAMBytes, n.Backends, n.P2PAddr, n.Stake = r.VRAMBytes, r.Backends, r.P2PAddr, r.Stake
	k := d.list(16)
	if k > maxUnbonding {
		d.fail("too many unbonding entries")
		return n
	}
	for i := 0; i < k; i++ {
		n.Unbonding = append(n.Unbonding, unbond{Amount: d.u64(), Release: d.i64()})
	}
	n.Tasks = decodeSpecialize(d).Tasks
	n.LastBeat, n.Online, n.Registered = d.i64(), d.flag(), d.i64()
	return n
}

func encodeExec(e *encoder, x *execution) {
	e.u64(x.ID)
	e.h(x.Requester)
	e.h(x.Model)
	e.u32(x.MaxTokens)
	e.u64(x.Escrow)
	e.u8(x.State)
	e.i64(x.Height)
	e.i64(x.Closed)
	encodeAddrs(e, x.Blacklist)
	e.list(len(x.Tasks))
	for i := range x.Tasks {
		t := &x.Tasks[i]
		e.u8(t.State)
		e.h(t.Node)
		e.u32(t.Attempt)
		e.i64(t.AssignAfter)
		e.i64(t.Deadline)
		e.u64(t.Price)
		e.u64(t.Surcharge)
		c := &t.Commit
		e.i64(c.Height)
		e.i64(c.Time)
		e.u32(c.Steps)
		e.u64(c.Payment)
		encodeRoots(e, c.Inputs)
		encodeRoots(e, c.Outputs)
		v := &t.Verify
		e.u8(v.State)
		e.flag(v.Forfeit)
		e.flag(v.Disputed)
		e.flag(v.Unpaid)
		e.i64(v.After)
		e.h(v.Validator)
		e.i64(v.Deadline)
		encodeAddrs(e, v.Tried)
		e.h(v.First)
	}
}

func decodeExec(d *decoder) *execution {
	x := &execution{ID: d.u64(), Requester: d.h(), Model: d.h(), MaxTokens: d.u32(), Escrow: d.u64(),
		State: d.u8(), Height: d.i64(), Closed: d.i64(), Blacklist: decodeAddrs(d)}
	n := d.list(190) // a task record is at least 191 bytes
	if n > 0 {
		x.Tasks = make([]taskRun, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		t := &x.Tasks[i]
		t.State, t.Node, t.Attempt, t.AssignAfter, t.Deadline = d.u8(), d.h(), d.u32(), d.i64(), d.i64()
		t.Price, t.Surcharge = d.u64(), d.u64()
		c := &t.Commit
		c.Height, c.Time, c.Steps, c.Payment, c.Inputs, c.Outputs = d.i64(), d.i64(), d.u32(), d.u64(), decodeRoots(d), decodeRoots(d)
		v := &t.Verify
		v.State, v.Forfeit, v.Disputed, v.Unpaid = d.u8(), d.flag(), d.flag(), d.flag()
		v.After, v.Validator, v.Deadline, v.Tried, v.First = d.i64(), d.h(), d.i64(), decodeAddrs(d), d.h()
	}
	return x
}

func loadState(b []byte) (*State, error) {
	if len(b) < headerLength || string(b[:len(snapMagic)]) != snapMagic {
		return nil, fmt.Errorf("%w: missing snapshot magic", ErrDecode)
	}
	if b[len(snapMagic)] != snapVersion {
		return nil, fmt.Errorf("%w: unsupported snapshot version %d", ErrDecode, b[len(snapMagic)])
	}
	d := &decoder{b: b, off: headerLength}
	s := &State{st{accounts: map[Address]*account{}, nodes: map[Address]*node{},
		models: map[Hash]*model{}, execs: map[uint64]*execution{}}}
	s.decodeBody(d)
	if err := d.done(); err != nil {
		return nil, err
	}
	if !bytes.Equal(s.snapshot(), b) {
		return nil, fmt.Errorf("%w: non-canonical snapshot (order or duplicates)", ErrDecode)
	}
	if err := s.checkLoaded(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *st) decodeBody(d *decoder) {
	s.chainID, s.height = d.str(), d.i64()
	s.header = Header{ChainID: d.str(), Height: d.i64(), TimeUnixNano: d.i64(), Beacon: d.h()}
	s.params, s.authorities, s.nextExec = decodeParams(d), decodeAddrs(d), d.u64()
	n := d.list(48)
	for i := 0; i < n && d.err == nil; i++ {
		a := d.h()
		s.accounts[a] = &account{Balance: d.u64(), Nonce: d.u64()}
	}
	n = d.list(100)
	for i := 0; i < n && d.err == nil; i++ {
		m := &model{ID: d.h(), Owner: d.h(), Height: d.i64()}
		m.Spec = *decodeRegisterModel(d)
		s.models[m.ID] = m
	}
	n = d.list(64)
	for i := 0; i < n && d.err == nil; i++ {
		nd := decodeNode(d)
		s.nodes[nd.Addr] = nd
	}
	n = d.list(100)
	for i := 0; i < n && d.err == nil; i++ {
		x := decodeExec(d)
		s.execs[x.ID] = x
	}
}
