package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	size "github.com/splitup/splitup/internal/cli"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// KeyFile is the node key's name inside --home.
const KeyFile = "node.key"

// BlobDir is the shard store's directory inside --home.
const BlobDir = "blobs"

// defaultRPC is the RPC address used when neither --rpc nor $SPLITUP_RPC is set.
const defaultRPC = "http://127.0.0.1:26657"

func rpcDefault() string {
	if v := os.Getenv("SPLITUP_RPC"); v != "" {
		return v
	}
	return defaultRPC
}

// readNodeKey reads HOME/node.key.
func readNodeKey(home string) (ed25519.PrivateKey, error) {
	if home == "" {
		return nil, usagef("--home is required: the node directory made by 'splitup-node init'")
	}
	key, err := chain.ReadKeyFile(filepath.Join(home, KeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (run 'splitup-node init --home %s' first)", err, home)
	}
	return key, err
}

// conn is a chain connection with the node's signer.
type conn struct {
	client *chain.RPCClient
	signer *chain.Signer
}

// dialChain connects to the validator at rpc and prepares a signer for key.
func dialChain(ctx context.Context, rpc string, key ed25519.PrivateKey) (*conn, error) {
	c, err := chain.Dial(rpc)
	if err != nil {
		return nil, usagef("--rpc: %v", err)
	}
	s, err := chain.NewSigner(ctx, c, key)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w (is a validator running at %s? pass --rpc URL)", err, rpc)
	}
	return &conn{client: c, signer: s}, nil
}

func (c *conn) Close() error { return c.client.Close() }

// params reads the contract parameters.
func (c *conn) params(ctx context.Context) (contract.Params, error) {
	var p contract.Params
	err := queryJSON(ctx, c.client, "params", &p)
	return p, err
}

// send sends msg and turns the usual refusals into advice.
func (c *conn) send(ctx context.Context, what string, msg contract.Msg) (*chain.TxResult, error) {
	res, err := c.signer.Send(ctx, msg)
	if err == nil {
		return res, nil
	}
	var te *chain.TxError
	if !errors.As(err, &te) || te.Codespace != "" {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	addr := c.signer.Address()
	switch te.Code {
	case contract.CodeInsufficient:
		if _, ok := msg.(*contract.Specialize); ok { // the tasks need more VRAM than the node declared
			return nil, fmt.Errorf("%s: %w\nchoose fewer or smaller tasks (see 'splitup query model ID'), or register a node with more --vram", what, err)
		}
		return nil, fmt.Errorf("%s: %w\naccount %s cannot pay: fund it, e.g. 'splitup tx transfer --key FAUCET --to %s --amount N'", what, err, addr, addr)
	case contract.CodeInsufficientFee:
		return nil, fmt.Errorf("%s: %w\naccount %s cannot pay: fund it, e.g. 'splitup tx transfer --key FAUCET --to %s --amount N'", what, err, addr, addr)
	case contract.CodeStakeTooLow:
		return nil, fmt.Errorf("%s: %w\nraise --stake (see stake_base and stake_per_gib in 'splitup query params') or lower --vram", what, err)
	case contract.CodeExists:
		return nil, fmt.Errorf("%s: %w\nnode %s is already registered; use 'splitup-node stake' or 'splitup-node specialize'", what, err, addr)
	case contract.CodeNotFound:
		return nil, fmt.Errorf("%s: %w\nis the node registered ('splitup-node register') and the model id right ('splitup query models')?", what, err)
	}
	return nil, fmt.Errorf("%s: %w", what, err)
}

// queryJSON runs a query and decodes its JSON answer.
func queryJSON(ctx context.Context, c chain.Client, path string, v any) error {
	raw, err := c.Query(ctx, path, nil)
	if err != nil {
		return fmt.Errorf("query %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("query %s: %w", path, err)
	}
	return nil
}

// minStake is the stake the chain requires for vram bytes:
// base + perGiB × ceil(vram in GiB).
func minStake(p contract.Params, vram uint64) uint64 {
	gib := (vram + 1<<30 - 1) >> 30
	return p.StakeBase + p.StakePerGiB*gib
}

// parseSize reads a positive byte count such as "8GiB", "5.5MiB", "1.5GB" or "4096".
func parseSize(s string) (uint64, error) {
	n, err := size.ParseSize(s)
	if err == nil && n <= 0 {
		err = fmt.Errorf("size %q must be more than 0 bytes", s)
	}
	return uint64(n), err
}

// parseAmount reads an amount of money: base units ("1100000000"), or
// tokens with a "token" or "tokens" suffix ("1100tokens", "0.5token";
// 1 token = 10⁶ base units).
func parseAmount(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, suf := range []string{"tokens", "token"} {
		if v, ok := strings.CutSuffix(t, suf); ok {
			t, mult = strings.TrimSpace(v), int64(contract.Token)
			break
		}
	}
	r, ok := new(big.Rat).SetString(t)
	if !ok || t == "" || strings.ContainsAny(t, "/eExXbBoO_") { // decimal only: big.Rat also reads 0x10, 0b101, 1e3, 1_000
		return 0, fmt.Errorf("amount %q: want base units (e.g. 1100000000) or tokens (e.g. 1100tokens)", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() || r.Sign() <= 0 || r.Num().BitLen() > 63 {
		return 0, fmt.Errorf("amount %q must be a positive whole number of base units", s)
	}
	return r.Num().Uint64(), nil
}
