package deploy

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// Chain is the part of chain.Client that Register uses.
type Chain interface {
	// BroadcastTx submits an encoded tx and waits until a block includes it.
	BroadcastTx(ctx context.Context, tx []byte) (*chain.TxResult, error)
	// Query runs a read-only query against committed state.
	Query(ctx context.Context, path string, data []byte) ([]byte, error)
}

var _ Chain = chain.Client(nil)

// Errors of Register that callers branch on.
var (
	// ErrRPC is wrapped when the chain could not be reached or answered
	// with something other than a query or tx result.
	ErrRPC = errors.New("chain RPC failed")
	// ErrUnfunded is wrapped when the signing account cannot pay the fee.
	ErrUnfunded = errors.New("account cannot pay the transaction fee")
	// ErrRefused is wrapped when the chain refused RegisterModel.
	ErrRefused = errors.New("chain refused the model")
)

// nonceRetries is how often Register re-reads the nonce when another tx of
// the same account took it first.
const nonceRetries = 3

// Register signs d.Msg with key and sends it to the chain with the
// account's next nonce and the chain's minimum fee, and waits until a block
// includes it. chainID may be empty: it is then read from the chain. A model
// with the same id that is already registered counts as success. It returns
// the model id.
func Register(ctx context.Context, c Chain, key ed25519.PrivateKey, chainID string, d *Deployment) (contract.Hash, error) {
	if len(key) != ed25519.PrivateKeySize {
		return contract.Hash{}, fmt.Errorf("deploy: register: key has %d bytes, want an ed25519 private key", len(key))
	}
	switch ok, err := Registered(ctx, c, d.ID); {
	case err != nil:
		return contract.Hash{}, err
	case ok:
		return d.ID, nil
	}
	if chainID == "" {
		var info chain.ChainInfo
		if err := query(ctx, c, "chain/info", &info); err != nil {
			return contract.Hash{}, err
		}
		chainID = info.ChainID
	}
	var params contract.Params
	if err := query(ctx, c, "params", &params); err != nil {
		return contract.Hash{}, err
	}
	for attempt := 0; ; attempt++ {
		err := sendRegister(ctx, c, key, chainID, params.MinTxFee, &d.Msg)
		var te *chain.TxError
		switch {
		case err == nil:
			return d.ID, nil
		case errors.As(err, &te) && te.Codespace == "" && te.Code == contract.CodeExists:
			return d.ID, nil
		case errors.As(err, &te) && te.Codespace == "" && te.Code == contract.CodeReplayedNonce && attempt < nonceRetries:
			continue // another tx of this account took the nonce: read it again
		case errors.As(err, &te):
			return contract.Hash{}, fmt.Errorf("deploy: register model %s: %w: %w", d.ID, ErrRefused, err)
		default:
			return contract.Hash{}, err
		}
	}
}

// sendRegister signs msg with the account's next nonce and broadcasts it.
func sendRegister(ctx context.Context, c Chain, key ed25519.PrivateKey, chainID string, fee uint64, msg *contract.RegisterModel) error {
	addr := chain.AddressOf(key)
	var acct contract.AccountInfo
	if err := query(ctx, c, "account/"+addr.String(), &acct); err != nil {
		return err
	}
	if acct.Balance < fee {
		return fmt.Errorf("deploy: register: %w: account %s holds %d base units, the fee is %d; send it funds first (for a devnet, from the faucet key)",
			ErrUnfunded, addr, acct.Balance, fee)
	}
	tx := contract.NewTx(chainID, acct.Nonce, fee, msg)
	tx.Sign(key)
	if _, err := c.BroadcastTx(ctx, contract.EncodeTx(tx)); err != nil {
		var te *chain.TxError
		if errors.As(err, &te) {
			return err
		}
		return fmt.Errorf("deploy: register: %w: %w", ErrRPC, err)
	}
	return nil
}

// Registered reports whether the chain has model id. An error means the
// chain could not be asked (it wraps ErrRPC).
func Registered(ctx context.Context, c Chain, id contract.Hash) (bool, error) {
	var info contract.ModelInfo
	err := query(ctx, c, "model/"+id.String(), &info)
	var qe *chain.QueryError
	switch {
	case errors.As(err, &qe):
		return false, nil // not found (or a query this chain does not answer)
	case err != nil:
		return false, err
	}
	return info.ID == id, nil
}

// query runs a query and decodes its JSON answer into v.
func query(ctx context.Context, c Chain, path string, v any) error {
	raw, err := c.Query(ctx, path, nil)
	if err != nil {
		var qe *chain.QueryError
		if errors.As(err, &qe) {
			return fmt.Errorf("deploy: query %s: %w", path, err)
		}
		return fmt.Errorf("deploy: %w: %w", ErrRPC, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("deploy: query %s: %w: bad answer: %v", path, ErrRPC, err)
	}
	return nil
}
