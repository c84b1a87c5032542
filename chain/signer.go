package chain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/splitup/splitup/contract"
)

// Signer signs and sends txs for one account. It tracks the account's next
// nonce locally so that several txs may be in flight, and re-reads it from
// the chain after any failure. It is safe for concurrent use.
type Signer struct {
	c       Client
	priv    ed25519.PrivateKey
	chainID string

	mu     sync.Mutex // guards fee, nonce and synced
	fee    uint64
	nonce  uint64
	synced bool
}

// NewSigner reads the chain id and the minimum fee from the chain.
func NewSigner(ctx context.Context, c Client, priv ed25519.PrivateKey) (*Signer, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := c.Query(ctx, "params", nil)
	if err != nil {
		return nil, fmt.Errorf("read params: %w", err)
	}
	var p contract.Params
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("read params: %w", err)
	}
	return &Signer{c: c, priv: priv, chainID: st.ChainID, fee: p.MinTxFee}, nil
}

// Address is the signer's account.
func (s *Signer) Address() contract.Address { return AddressOf(s.priv) }

// SetFee overrides the fee (base units) put on each tx; the default is the
// chain's minimum.
func (s *Signer) SetFee(fee uint64) {
	s.mu.Lock()
	s.fee = fee
	s.mu.Unlock()
}

// Account reads the signer's account from committed state.
func (s *Signer) Account(ctx context.Context) (*contract.AccountInfo, error) {
	raw, err := s.c.Query(ctx, "account/"+s.Address().String(), nil)
	if err != nil {
		return nil, err
	}
	var a contract.AccountInfo
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	return &a, nil
}

// Sign returns the encoding of msg signed with the next nonce, which it
// reserves. A caller that submits signed txs itself must submit them in
// the order Sign returned them; Send does that.
func (s *Signer) Sign(ctx context.Context, msg contract.Msg) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signLocked(ctx, msg)
}

func (s *Signer) signLocked(ctx context.Context, msg contract.Msg) ([]byte, error) {
	if !s.synced {
		a, err := s.Account(ctx)
		if err != nil {
			return nil, err
		}
		s.nonce, s.synced = a.Nonce, true
	}
	tx := contract.NewTx(s.chainID, s.nonce, s.fee, msg)
	tx.Sign(s.priv)
	s.nonce++
	return contract.EncodeTx(tx), nil
}

// Send signs msg, submits it and waits for its block. Concurrent Sends
// enter the mempool in nonce order, so several may be in flight. A failed
// tx (a *TxError) makes the next Sign re-read the nonce from the chain.
func (s *Signer) Send(ctx context.Context, msg contract.Msg) (*TxResult, error) {
	hash, err := s.Submit(ctx, msg)
	if err != nil {
		return nil, err
	}
	return s.Wait(ctx, hash)
}

// Submit signs msg and returns once the mempool has accepted it, with the
// tx hash for Wait: for txs whose outcome can be read later, so that no
// one polls for their block. Concurrent Submits enter the mempool in nonce
// order.
func (s *Signer) Submit(ctx context.Context, msg contract.Msg) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := s.signLocked(ctx, msg)
	var hash []byte
	if err == nil {
		hash, err = s.c.Submit(ctx, raw)
	}
	if err != nil {
		s.synced = false
		return nil, err
	}
	return hash, nil
}

// Resync makes the next Sign re-read the nonce from the chain, for a caller
// that gave up waiting for a tx it submitted.
func (s *Signer) Resync() {
	s.mu.Lock()
	s.synced = false
	s.mu.Unlock()
}

// Wait waits for the block of a tx this signer submitted and returns its
// result. A failed tx (a *TxError) makes the next Sign re-read the nonce.
func (s *Signer) Wait(ctx context.Context, hash []byte) (*TxResult, error) {
	res, err := s.c.WaitTx(ctx, hash)
	var te *TxError
	if errors.As(err, &te) {
		s.Resync()
	}
	return res, err
}
