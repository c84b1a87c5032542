package contract

import (
	"crypto/ed25519"
	"slices"
)

// MaxNonceGap is how far ahead of the signer's next nonce CheckTx accepts a
// nonce, so that a sender can queue txs without flooding the mempool.
const MaxNonceGap = 64

// txCtx carries a tx through its handler. Handlers validate everything
// first, then call pay (fee and nonce) and mutate; they never fail after pay.
type txCtx struct {
	tx    *Tx
	avail uint64 // signer balance minus fee
	paid  bool
}

// pay charges the fee to the pool and consumes the nonce.
func (c *txCtx) pay(s *st) {
	if c.paid {
		panic("contract: tx paid twice")
	}
	c.paid = true
	s.debit(c.tx.Signer, c.tx.Fee)
	s.credit(PoolAddress, c.tx.Fee)
	s.acct(c.tx.Signer).Nonce++
}

// precheck decodes raw and runs the checks shared by CheckTx and DeliverTx.
// exactNonce selects DeliverTx's rule (nonce must equal the next nonce).
func (s *st) precheck(raw []byte, exactNonce bool) (*txCtx, TxResult) {
	tx, err := DecodeTx(raw)
	if err != nil {
		return nil, fail(CodeDecode, "decode tx: malformed or non-canonical bytes")
	}
	if tx.ChainID != s.chainID {
		return nil, fail(CodeWrongChainID, "tx for chain %q, this is %q", tx.ChainID, s.chainID)
	}
	if tx.Signer == PoolAddress {
		return nil, fail(CodeBadSigner, "the pool address cannot sign")
	}
	key := sha(raw)
	if !s.sigCache.has(key) {
		if !ed25519.Verify(tx.Signer[:], tx.signBytes(), tx.Signature[:]) {
			return nil, fail(CodeBadSignature, "signature does not verify for %s", tx.Signer)
		}
		s.sigCache.add(key)
	}
	var next, bal uint64
	if ac := s.accounts[tx.Signer]; ac != nil {
		next, bal = ac.Nonce, ac.Balance
	}
	if tx.Nonce < next {
		return nil, fail(CodeReplayedNonce, "nonce %d already used; next is %d", tx.Nonce, next)
	}
	if (exactNonce && tx.Nonce > next) || tx.Nonce-next > MaxNonceGap {
		return nil, fail(CodeFutureNonce, "nonce %d ahead of next nonce %d", tx.Nonce, next)
	}
	if tx.Fee < s.params.MinTxFee {
		return nil, fail(CodeInsufficientFee, "fee %d below minimum %d", tx.Fee, s.params.MinTxFee)
	}
	if tx.Fee > bal {
		return nil, fail(CodeInsufficient, "fee %d exceeds balance %d", tx.Fee, bal)
	}
	return &txCtx{tx: tx, avail: bal - tx.Fee}, TxResult{}
}

func (s *st) checkTx(raw []byte) TxResult {
	c, res := s.precheck(raw, false)
	if c == nil {
		return res
	}
	if m, isModel := c.tx.Msg.(*RegisterModel); isModel {
		if _, reason := validateModel(m); reason != "" {
			return fail(CodeInvalidDAG, "register model: %s", reason)
		}
	}
	return TxResult{}
}

func (s *st) deliverTx(raw []byte) TxResult {
	c, res := s.precheck(raw, true)
	if c == nil {
		return res
	}
	res = s.dispatch(c)
	if res.Code != CodeOK && c.paid {
		panic("contract: handler failed after applying")
	}
	if res.Code == CodeOK && !c.paid {
		panic("contract: handler succeeded without paying")
	}
	if res.Code != CodeOK {
		// The tx passed every check a mempool can make and takes its place
		// in the block: its signer pays the fee and uses the nonce, though
		// the message changed nothing. Free failures would let anyone fill
		// blocks at no cost (the same nonce could fail again and again),
		// and a failure would void every later tx its signer had queued.
		c.pay(s)
	}
	return res
}

func (s *st) dispatch(c *txCtx) TxResult {
	switch m := c.tx.Msg.(type) {
	case *Transfer:
		return s.transfer(c, m)
	case *RegisterModel:
		return s.registerModel(c, m)
	case *RegisterNode:
		return s.registerNode(c, m)
	case *Stake:
		return s.stake(c, m)
	case *Unstake:
		return s.unstake(c, m)
	case *Specialize:
		return s.specialize(c, m)
	case *Heartbeat:
		return s.heartbeat(c, m)
	case *RequestExecution:
		return s.requestExecution(c, m)
	case *CancelExecution:
		return s.cancelExecution(c, m)
	case *CommitResult:
		return s.commitResult(c, m)
	case *ReportFailure:
		return s.reportFailure(c, m)
	case *SubmitVerification:
		return s.submitVerification(c, m)
	case *SetParams:
		return s.setParams(c, m)
	}
	return fail(CodeInvalidMsg, "unknown message")
}

func (s *st) transfer(c *txCtx, m *Transfer) TxResult {
	if m.Amount > c.avail {
		if _, okSum := add(m.Amount, c.tx.Fee); !okSum {
			return fail(CodeOverflow, "transfer: amount + fee overflows")
		}
		return fail(CodeInsufficient, "transfer: amount %d exceeds spendable balance %d", m.Amount, c.avail)
	}
	c.pay(s)
	s.debit(c.tx.Signer, m.Amount)
	s.credit(m.To, m.Amount)
	return ok(ev(EventTransfer, "from", c.tx.Signer.String(), "to", m.To.String(), "amount", utoa(m.Amount)))
}

func (s *st) setParams(c *txCtx, m *SetParams) TxResult {
	if !slices.Contains(s.authorities, c.tx.Signer) {
		return fail(CodeUnauthorized, "set params: %s is not a governance authority", c.tx.Signer)
	}
	if err := m.Params.Validate(); err != nil {
		return fail(CodeBadParams, "set params: %s", err.Error())
	}
	c.pay(s)
	s.params = m.Params
	return ok(ev(EventParamsChanged, "verify_ppm", utoa(uint64(m.Params.VerifyPPM)), "slash_bp", utoa(uint64(m.Params.SlashBP))))
}

// beginBlock records the header and releases matured unbonding stake. A
// header of another chain or height is a caller bug and panics; a block time
// before the previous one is raised to it, so contract time never runs back.
func (s *st) beginBlock(h Header) []Event {
	if h.ChainID != s.chainID || h.Height != s.height+1 {
		panic("contract: BeginBlock header does not follow the previous block")
	}
	h.TimeUnixNano = max(h.TimeUnixNano, s.header.TimeUnixNano)
	s.height = h.Height
	s.header = h
	return s.releaseUnbonding()
}

// endBlock runs the block-time work in a fixed order.
func (s *st) endBlock() []Event {
	var evs []Event
	off, e := s.expireNodes()
	evs = append(evs, e...)
	evs = append(evs, s.failOffline(off)...)
	evs = append(evs, s.expireDeadlines()...)
	evs = append(evs, s.assignPending()...)
	evs = append(evs, s.drawVerifications()...)
	evs = append(evs, s.expireValidators()...)
	evs = append(evs, s.settle()...)
	return evs
}
