package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/deploy"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
)

// prepared returns stories260K prepared for a 300 KiB budget.
func prepared(t *testing.T) *deploy.Deployment {
	t.Helper()
	d, err := deploy.Prepare(stories(t), 300<<10, partition.CostModel{Chunk: 16, Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPublishAndFetch publishes a deployment into host A's store, serves
// it, and has host B fetch every blob by hash into its own store.
func TestPublishAndFetch(t *testing.T) {
	d := prepared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	storeA, err := p2p.OpenBlobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := deploy.Publish(storeA, d); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := storeA.List(); len(got) != len(d.Blobs()) {
		t.Fatalf("store holds %d blobs, want %d", len(got), len(d.Blobs()))
	}
	_, keyA := testKey(2)
	_, keyB := testKey(3)
	a, err := p2p.New(ctx, p2p.Config{Key: keyA})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.ServeBlobs(storeA)
	b, err := p2p.New(ctx, p2p.Config{Key: keyB})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	peer, err := b.Connect(ctx, a.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	storeB, err := p2p.OpenBlobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := deploy.FetchAll(ctx, b, peer, d.Blobs(), storeB, nil); err != nil {
		t.Fatal(err)
	}
	for i := range d.Tasks {
		want, err := d.Shard(i)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(storeB.Path(p2p.Hash(d.Tasks[i].Hash)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || !storeB.Pinned(p2p.Hash(d.Tasks[i].Hash)) {
			t.Fatalf("task %d: fetched shard differs or is not pinned", i)
		}
	}
	card, err := os.ReadFile(storeB.Path(p2p.Hash(d.CardHash)))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := deploy.DecodeCard(card); err != nil || c.ModelID != d.ID {
		t.Fatalf("fetched card: %v", err)
	}
}

// startChain runs a one-validator chain in a temporary directory and
// returns a client, the funded faucet key and the chain id.
func startChain(t *testing.T) (*chain.RPCClient, *chain.Node, string) {
	t.Helper()
	dir := t.TempDir()
	nc := chain.DefaultNodeConfig()
	nc.TimeoutCommitMillis = 50
	nw, err := chain.InitNetwork(chain.NetworkOptions{Dir: dir, Validators: 1, ChainID: "deploy-test", FaucetBalance: 1_000_000_000, Node: nc})
	if err != nil {
		t.Fatal(err)
	}
	node, err := chain.StartNode(filepath.Join(dir, nw.Validators[0].Home), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := node.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := chain.Dial(node.RPC())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, node, filepath.Join(dir, chain.FaucetKeyFile)
}

// TestRegisterOnChain registers stories260K on an in-process chain, reads
// it back, and registers it again (a no-op that succeeds).
func TestRegisterOnChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a validator")
	}
	d := prepared(t)
	c, _, keyPath := startChain(t)
	key, err := chain.ReadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := deploy.Register(ctx, c, key, "", d)
	if err != nil {
		t.Fatal(err)
	}
	if id != d.ID {
		t.Fatalf("Register returned %v, want %v", id, d.ID)
	}
	raw, err := c.Query(ctx, "model/"+id.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var info contract.ModelInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != id || info.Name != d.Msg.Name || info.GraphHash != d.Msg.GraphHash || info.Owner != chain.AddressOf(key) {
		t.Fatalf("chain has %+v", info)
	}
	if !reflect.DeepEqual(info.Tasks, d.Msg.Tasks) || !reflect.DeepEqual(info.Inputs, d.Msg.Inputs) || !reflect.DeepEqual(info.Outputs, d.Msg.Outputs) {
		t.Fatal("the chain's tasks or interfaces differ from the message")
	}
	if again, err := deploy.Register(ctx, c, key, "deploy-test", d); err != nil || again != id {
		t.Fatalf("second Register: %v, %v", again, err)
	}
}

// fakeChain scripts the answers of a chain for Register.
type fakeChain struct {
	accounts  []contract.AccountInfo // answers to successive account queries (the last repeats)
	model     bool                   // the model query finds the model
	results   []error                // results of successive broadcasts (nil: success)
	rpcDown   bool                   // every call fails as an unreachable RPC would
	sent      []*contract.Tx
	modelInfo contract.ModelInfo
}

var errDown = errors.New(`post failed: Post "http://127.0.0.1:1": dial tcp 127.0.0.1:1: connect: connection refused`)

func (f *fakeChain) Query(_ context.Context, path string, _ []byte) ([]byte, error) {
	if f.rpcDown {
		return nil, errDown
	}
	switch {
	case path == "chain/info":
		return json.Marshal(chain.ChainInfo{ChainID: "fake"})
	case path == "params":
		return json.Marshal(contract.DefaultParams())
	case len(path) > 8 && path[:8] == "account/":
		a := f.accounts[0]
		if len(f.accounts) > 1 {
			f.accounts = f.accounts[1:]
		}
		return json.Marshal(a)
	case len(path) > 6 && path[:6] == "model/" && f.model:
		return json.Marshal(f.modelInfo)
	}
	return nil, &chain.QueryError{Code: chain.CodeQueryNotFound, Log: "not found"}
}

func (f *fakeChain) BroadcastTx(_ context.Context, raw []byte) (*chain.TxResult, error) {
	if f.rpcDown {
		return nil, errDown
	}
	tx, err := contract.DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	f.sent = append(f.sent, tx)
	err = f.results[0]
	f.results = f.results[1:]
	if err != nil {
		return nil, err
	}
	return &chain.TxResult{}, nil
}

// TestRegisterCases covers Register's branches against a scripted chain.
func TestRegisterCases(t *testing.T) {
	d := prepared(t)
	_, key := testKey(9)
	funded := contract.AccountInfo{Balance: 1000, Nonce: 4}
	exists := &chain.TxError{Stage: "deliver", Code: contract.CodeExists, Log: "already registered"}
	replayed := &chain.TxError{Stage: "check", Code: contract.CodeReplayedNonce, Log: "nonce used"}
	invalid := &chain.TxError{Stage: "deliver", Code: contract.CodeInvalidDAG, Log: "bad dag"}
	for _, tc := range []struct {
		name    string
		f       *fakeChain
		wantErr error
		nonces  []uint64
	}{
		{"ok", &fakeChain{accounts: []contract.AccountInfo{funded}, results: []error{nil}}, nil, []uint64{4}},
		{"already-registered", &fakeChain{model: true, modelInfo: contract.ModelInfo{ID: d.ID}}, nil, nil},
		{"exists-in-block", &fakeChain{accounts: []contract.AccountInfo{funded}, results: []error{exists}}, nil, []uint64{4}},
		{"nonce-race", &fakeChain{accounts: []contract.AccountInfo{funded, {Balance: 1000, Nonce: 5}}, results: []error{replayed, nil}}, nil, []uint64{4, 5}},
		{"refused", &fakeChain{accounts: []contract.AccountInfo{funded}, results: []error{invalid}}, deploy.ErrRefused, []uint64{4}},
		{"unfunded", &fakeChain{accounts: []contract.AccountInfo{{}}}, deploy.ErrUnfunded, nil},
		{"unreachable", &fakeChain{rpcDown: true}, deploy.ErrRPC, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := deploy.Register(context.Background(), tc.f, key, "", d)
			if !errors.Is(err, tc.wantErr) || (err == nil && id != d.ID) {
				t.Fatalf("Register = %v, %v; want error %v", id, err, tc.wantErr)
			}
			var nonces []uint64
			for _, tx := range tc.f.sent {
				if tx.ChainID != "fake" || tx.Fee != contract.DefaultParams().MinTxFee || !reflect.DeepEqual(tx.Msg, &d.Msg) {
					t.Fatalf("sent tx %+v", tx)
				}
				nonces = append(nonces, tx.Nonce)
			}
			if !reflect.DeepEqual(nonces, tc.nonces) {
				t.Fatalf("sent nonces %v, want %v", nonces, tc.nonces)
			}
		})
	}
}
