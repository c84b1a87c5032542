package contract

import (
	"bytes"
	"fmt"
)

// Message type bytes of the canonical encoding; they never change.
const (
	typeTransfer           = 1
	typeRegisterModel      = 2
	typeRegisterNode       = 3
	typeStake              = 4
	typeUnstake            = 5
	typeSpecialize         = 6
	typeHeartbeat          = 7
	typeRequestExecution   = 8
	typeCancelExecution    = 9
	typeCommitResult       = 10
	typeReportFailure      = 11
	typeSubmitVerification = 12
	typeSetParams          = 13
)

// encode writes the tx; without the signature it is the sign bytes.
func (t *Tx) encode(withSig bool) []byte {
	e := &encoder{b: make([]byte, 0, 160)}
	e.b = append(e.b, txMagic...)
	e.u8(txVersion)
	e.str(t.ChainID)
	e.u64(t.Nonce)
	e.u64(t.Fee)
	e.h(t.Signer)
	if t.Msg == nil {
		e.u8(0)
	} else {
		e.u8(t.Msg.msgType())
		t.Msg.encodeMsg(e)
	}
	if withSig {
		e.b = append(e.b, t.Signature[:]...)
	}
	return e.b
}

func (t *Tx) signBytes() []byte { return t.encode(false) }

func decodeTx(b []byte) (*Tx, error) {
	if len(b) > MaxTxBytes {
		return nil, fmt.Errorf("%w: tx of %d bytes exceeds %d", ErrDecode, len(b), MaxTxBytes)
	}
	if len(b) < headerLength || string(b[:len(txMagic)]) != txMagic {
		return nil, fmt.Errorf("%w: missing tx magic", ErrDecode)
	}
	if b[len(txMagic)] != txVersion {
		return nil, fmt.Errorf("%w: unsupported tx version %d", ErrDecode, b[len(txMagic)])
	}
	d := &decoder{b: b, off: headerLength}
	t := &Tx{ChainID: d.str(), Nonce: d.u64(), Fee: d.u64(), Signer: d.h()}
	t.Msg = decodeMsg(d, d.u8())
	copy(t.Signature[:], d.take(64))
	if err := d.done(); err != nil {
		return nil, err
	}
	if !bytes.Equal(EncodeTx(t), b) {
		return nil, fmt.Errorf("%w: non-canonical tx", ErrDecode)
	}
	return t, nil
}

func decodeMsg(d *decoder, typ byte) Msg {
	var m Msg
	switch typ {
	case typeTransfer:
		m = &Transfer{To: d.h(), Amount: d.u64()}
	case typeRegisterModel:
		m = decodeRegisterModel(d)
	case typeRegisterNode:
		m = decodeRegisterNode(d)
	case typeStake:
		m = &Stake{Amount: d.u64()}
	case typeUnstake:
		m = &Unstake{Amount: d.u64()}
	case typeSpecialize:
		m = decodeSpecialize(d)
	case typeHeartbeat:
		m = &Heartbeat{}
	case typeRequestExecution:
		m = &RequestExecution{Model: d.h(), MaxFee: d.u64(), MaxTokens: d.u32()}
	case typeCancelExecution:
		m = &CancelExecution{Exec: d.u64()}
	case typeCommitResult:
		m = &CommitResult{Exec: d.u64(), Task: d.u32(), Steps: d.u32(), Inputs: decodeRoots(d), Outputs: decodeRoots(d)}
	case typeReportFailure:
		m = &ReportFailure{Exec: d.u64(), Task: d.u32(), Reason: d.str()}
	case typeSubmitVerification:
		m = &SubmitVerification{Exec: d.u64(), Task: d.u32(), Outputs: decodeRoots(d), Match: d.flag()}
	case typeSetParams:
		m = &SetParams{Params: decodeParams(d)}
	default:
		d.fail("unknown message type")
	}
	return m
}

func (*Transfer) msgType() byte { return typeTransfer }
func (m *Transfer) encodeMsg(e *encoder) {
	e.h(m.To)
	e.u64(m.Amount)
}

func (*RegisterModel) msgType() byte { return typeRegisterModel }
func (m *RegisterModel) encodeMsg(e *encoder) {
	e.str(m.Name)
	e.h(m.GraphHash)
	encodeSpecs(e, m.Inputs)
	encodeSpecs(e, m.Outputs)
	e.list(len(m.Tasks))
	for i := range m.Tasks {
		t := &m.Tasks[i]
		e.str(t.Name)
		encodeSpecs(e, t.Inputs)
		encodeSpecs(e, t.Outputs)
		e.u64(t.VRAMBytes)
		e.u64(t.ComputeUnits)
		e.list(len(t.Shards))
		for _, h := range t.Shards {
			e.h(h)
		}
	}
}

func decodeRegisterModel(d *decoder) *RegisterModel {
	m := &RegisterModel{Name: d.str(), GraphHash: d.h(), Inputs: decodeSpecs(d), Outputs: decodeSpecs(d)}
	n := d.list(30)
	if n > 0 {
		m.Tasks = make([]TaskSpec, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		t := &m.Tasks[i]
		t.Name, t.Inputs, t.Outputs = d.str(), decodeSpecs(d), decodeSpecs(d)
		t.VRAMBytes, t.ComputeUnits = d.u64(), d.u64()
		k := d.list(32)
		if k > 0 {
			t.Shards = make([]Hash, k)
		}
		for j := 0; j < k; j++ {
			t.Shards[j] = d.h()
		}
	}
	return m
}

func encodeSpecs(e *encoder, specs []TensorSpec) {
	e.list(len(specs))
	for _, s := range specs {
		e.str(s.Name)
		e.list(len(s.Shape))
		for _, v := range s.Shape {
			e.i64(v)
		}
		e.str(s.DType)
	}
}

func decodeSpecs(d *decoder) []TensorSpec {
	n := d.list(8)
	if n == 0 {
		return nil
	}
	out := make([]TensorSpec, n)
	for i := 0; i < n && d.err == nil; i++ {
		out[i].Name = d.str()
		k := d.list(8)
		if k > maxRank {
			d.fail("rank too large")
			return nil
		}
		if k > 0 {
			out[i].Shape = make([]int64, k)
		}
		for j := 0; j < k; j++ {
			out[i].Shape[j] = d.i64()
		}
		out[i].DType = d.str()
	}
	return out
}

func (*RegisterNode) msgType() byte { return typeRegisterNode }
func (m *RegisterNode) encodeMsg(e *encoder) {
	e.u64(m.VRAMBytes)
	e.list(len(m.Backends))
	for _, b := range m.Backends {
		e.str(b)
	}
	e.str(m.P2PAddr)
	e.u64(m.Stake)
}

func decodeRegisterNode(d *decoder) *RegisterNode {
	m := &RegisterNode{VRAMBytes: d.u64()}
	n := d.list(2)
	if n > 0 {
		m.Backends = make([]string, n)
	}
	for i := 0; i < n; i++ {
		m.Backends[i] = d.str()
	}
	m.P2PAddr = d.str()
	m.Stake = d.u64()
	return m
}

func (*Stake) msgType() byte          { return typeStake }
func (m *Stake) encodeMsg(e *encoder) { e.u64(m.Amount) }

func (*Unstake) msgType() byte          { return typeUnstake }
func (m *Unstake) encodeMsg(e *encoder) { e.u64(m.Amount) }

func (*Specialize) msgType() byte { return typeSpecialize }
func (m *Specialize) encodeMsg(e *encoder) {
	e.list(len(m.Tasks))
	for _, r := range m.Tasks {
		e.h(r.Model)
		e.u32(r.Task)
	}
}

func decodeSpecialize(d *decoder) *Specialize {
	m := &Specialize{}
	n := d.list(36)
	if n > 0 {
		m.Tasks = make([]TaskRef, n)
	}
	for i := 0; i < n; i++ {
		m.Tasks[i] = TaskRef{Model: d.h(), Task: d.u32()}
	}
	return m
}

func (*Heartbeat) msgType() byte        { return typeHeartbeat }
func (*Heartbeat) encodeMsg(e *encoder) {}

func (*RequestExecution) msgType() byte { return typeRequestExecution }
func (m *RequestExecution) encodeMsg(e *encoder) {
	e.h(m.Model)
	e.u64(m.MaxFee)
	e.u32(m.MaxTokens)
}

func (*CancelExecution) msgType() byte          { return typeCancelExecution }
func (m *CancelExecution) encodeMsg(e *encoder) { e.u64(m.Exec) }

func (*CommitResult) msgType() byte { return typeCommitResult }
func (m *CommitResult) encodeMsg(e *encoder) {
	e.u64(m.Exec)
	e.u32(m.Task)
	e.u32(m.Steps)
	encodeRoots(e, m.Inputs)
	encodeRoots(e, m.Outputs)
}

func encodeRoots(e *encoder, rs []TensorRoot) {
	e.list(len(rs))
	for _, r := range rs {
		e.str(r.Name)
		e.h(r.Root)
	}
}

func decodeRoots(d *decoder) []TensorRoot {
	n := d.list(34)
	if n == 0 {
		return nil
	}
	out := make([]TensorRoot, n)
	for i := 0; i < n; i++ {
		out[i] = TensorRoot{Name: d.str(), Root: d.h()}
	}
	return out
}

func (*ReportFailure) msgType() byte { return typeReportFailure }
func (m *ReportFailure) encodeMsg(e *encoder) {
	e.u64(m.Exec)
	e.u32(m.Task)
	e.str(m.Reason)
}

func (*SubmitVerification) msgType() byte { return typeSubmitVerification }
func (m *SubmitVerification) encodeMsg(e *encoder) {
	e.u64(m.Exec)
	e.u32(m.Task)
	encodeRoots(e, m.Outputs)
	e.flag(m.Match)
}

func (*SetParams) msgType() byte          { return typeSetParams }
func (m *SetParams) encodeMsg(e *encoder) { encodeParams(e, &m.Params) }

func encodeParams(e *encoder, p *Params) {
	e.u64(p.MinTxFee)
	e.u64(p.StakeBase)
	e.u64(p.StakePerGiB)
	e.i64(p.UnbondingNanos)
	e.i64(p.HeartbeatNanos)
	e.u32(p.MissedBeats)
	e.u64(p.PricePerCU)
	e.i64(p.DeadlineBase)
	e.i64(p.DeadlinePerCU)
	e.u32(p.MaxAttempts)
	e.i64(p.ChallengeNanos)
	e.u32(p.VerifyPPM)
	e.u32(p.RewardBP)
	e.u32(p.SlashBP)
	e.u32(p.CollusionPPM)
	e.u32(p.MaxExecsPerBlk)
	e.i64(p.RetainNanos)
}

func decodeParams(d *decoder) Params {
	return Params{
		MinTxFee: d.u64(), StakeBase: d.u64(), StakePerGiB: d.u64(),
		UnbondingNanos: d.i64(), HeartbeatNanos: d.i64(), MissedBeats: d.u32(),
		PricePerCU: d.u64(), DeadlineBase: d.i64(), DeadlinePerCU: d.i64(),
		MaxAttempts: d.u32(), ChallengeNanos: d.i64(), VerifyPPM: d.u32(),
		RewardBP: d.u32(), SlashBP: d.u32(), CollusionPPM: d.u32(), MaxExecsPerBlk: d.u32(), RetainNanos: d.i64(),
	}
}

func modelID(m *RegisterModel) Hash {
	e := &encoder{}
	e.b = append(e.b, "splitup/model\x00"...)
	m.encodeMsg(e)
	return sha(e.b)
}
