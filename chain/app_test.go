package chain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/splitup/splitup/contract"
)

const testChainID = "chain-test"

// testNet is a validator set driven by hand, without CometBFT.
type testNet struct {
	t       *testing.T
	keys    []ed25519.PrivateKey
	vals    []abci.ValidatorUpdate
	genesis []byte
	faucet  ed25519.PrivateKey
	nonce   uint64
	time    time.Time
	history []*abci.RequestFinalizeBlock // every block decided by block()
}

func newTestNet(t *testing.T, nvals int) *testNet {
	n := &testNet{t: t, time: time.Unix(1_800_000_000, 0)}
	for range nvals {
		pub, priv, _ := ed25519.GenerateKey(nil)
		n.keys = append(n.keys, priv)
		n.vals = append(n.vals, abci.UpdateValidator(pub, 10, "ed25519"))
	}
	_, n.faucet, _ = ed25519.GenerateKey(nil)
	g := contract.Genesis{
		ChainID: testChainID, GenesisTimeUnixNano: n.time.UnixNano(), Params: contract.DefaultParams(),
		Accounts:    []contract.Account{{Address: AddressOf(n.faucet), Balance: 1_000_000 * contract.Token}},
		Authorities: []contract.Address{AddressOf(n.faucet)},
	}
	var err error
	if n.genesis, err = json.Marshal(g); err != nil {
		t.Fatal(err)
	}
	return n
}

// app opens (or reopens) the app of validator i stored in dir.
func (n *testNet) app(i int, dir string) *App {
	n.t.Helper()
	a, err := NewApp(AppConfig{ChainID: testChainID, StatePath: filepath.Join(dir, "app.state"), PrivKey: n.keys[i]})
	if err != nil {
		n.t.Fatal(err)
	}
	return a
}

func (n *testNet) initChain(a *App) {
	n.t.Helper()
	_, err := a.InitChain(context.Background(), &abci.RequestInitChain{
		ChainId: testChainID, Validators: n.vals, AppStateBytes: n.genesis, InitialHeight: 1, Time: n.time,
	})
	if err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNet) addr(i int) []byte {
	return cmted25519.PrivKey(n.keys[i]).PubKey().Address()
}

// transfer returns a signed transfer from the faucet with the next nonce.
func (n *testNet) transfer(amount uint64) []byte {
	to := contract.Address{byte(amount)}
	tx := contract.NewTx(testChainID, n.nonce, contract.DefaultParams().MinTxFee, &contract.Transfer{To: to, Amount: amount})
	tx.Sign(n.faucet)
	n.nonce++
	return contract.EncodeTx(tx)
}

// block has validator proposer propose txs at height, every app check the
// proposal, then finalizes and commits it on every app.
func (n *testNet) block(height int64, proposer int, apps []*App, txs ...[]byte) []*abci.ResponseFinalizeBlock {
	n.t.Helper()
	ctx := context.Background()
	n.time = n.time.Add(200 * time.Millisecond)
	prep, err := apps[proposer].PrepareProposal(ctx, &abci.RequestPrepareProposal{
		Txs: txs, MaxTxBytes: 1 << 20, Height: height, Time: n.time, ProposerAddress: n.addr(proposer),
	})
	if err != nil {
		n.t.Fatal(err)
	}
	var out []*abci.ResponseFinalizeBlock
	n.history = append(n.history, &abci.RequestFinalizeBlock{Txs: prep.Txs, Height: height, Time: n.time, ProposerAddress: n.addr(proposer)})
	for i, a := range apps {
		pp, _ := a.ProcessProposal(ctx, &abci.RequestProcessProposal{Txs: prep.Txs, Height: height, Time: n.time, ProposerAddress: n.addr(proposer)})
		if pp.Status != abci.ResponseProcessProposal_ACCEPT {
			n.t.Fatalf("app %d rejected a valid proposal at height %d", i, height)
		}
		fb, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: prep.Txs, Height: height, Time: n.time, ProposerAddress: n.addr(proposer)})
		if err != nil {
			n.t.Fatal(err)
		}
		if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
			n.t.Fatal(err)
		}
		out = append(out, fb)
	}
	return out
}

func info(t *testing.T, a *App) *abci.ResponseInfo {
	t.Helper()
	r, err := a.Info(context.Background(), &abci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestProcessProposalBeaconRules(t *testing.T) {
	n := newTestNet(t, 3)
	apps := []*App{n.app(0, t.TempDir()), n.app(1, t.TempDir()), n.app(2, t.TempDir())}
	for _, a := range apps {
		n.initChain(a)
	}
	n.block(1, 0, apps, n.transfer(5))
	ctx := context.Background()
	prep, err := apps[1].PrepareProposal(ctx, &abci.RequestPrepareProposal{Txs: [][]byte{n.transfer(6)}, MaxTxBytes: 1 << 20, Height: 2, ProposerAddress: n.addr(1)})
	if err != nil {
		t.Fatal(err)
	}
	good, tx := prep.Txs[0], prep.Txs[1]
	if _, err := DecodeBeaconEntry(good); err != nil {
		t.Fatalf("first tx is not a beacon entry: %v", err)
	}
	stranger, _, _ := ProveBeacon(n.keys[2], apps[0].rec.Beacon, 2) // valid proof, but not by the proposer
	stale, _, _ := ProveBeacon(n.keys[1], GenesisBeacon(testChainID), 2)
	wrongHeight, _, _ := ProveBeacon(n.keys[1], apps[0].rec.Beacon, 3)
	altered := append([]byte(nil), good...)
	altered[len(altered)-5] ^= 1
	_, outsider, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name     string
		txs      [][]byte
		proposer []byte
		want     error
	}{
		{"no txs", nil, n.addr(1), ErrNoBeacon},
		{"no beacon", [][]byte{tx}, n.addr(1), ErrNoBeacon},
		{"beacon not first", [][]byte{tx, good}, n.addr(1), ErrNoBeacon},
		{"second beacon", [][]byte{good, tx, good}, n.addr(1), ErrBeaconMisplace},
		{"proved by another validator", [][]byte{stranger.Encode(), tx}, n.addr(1), ErrBeaconProof},
		{"over a stale previous beacon", [][]byte{stale.Encode(), tx}, n.addr(1), ErrBeaconProof},
		{"for another height", [][]byte{wrongHeight.Encode(), tx}, n.addr(1), ErrBeaconHeight},
		{"altered proof", [][]byte{altered, tx}, n.addr(1), ErrBeaconProof},
		{"truncated entry", [][]byte{good[:len(good)-1], tx}, n.addr(1), ErrBadBeacon},
		{"unknown proposer", [][]byte{good, tx}, cmted25519.PrivKey(outsider).PubKey().Address(), ErrUnknownSigner},
	}
	for _, c := range cases {
		if err := apps[0].checkProposal(c.txs, 2, c.proposer); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		r, _ := apps[0].ProcessProposal(ctx, &abci.RequestProcessProposal{Txs: c.txs, Height: 2, ProposerAddress: c.proposer})
		if r.Status != abci.ResponseProcessProposal_REJECT {
			t.Errorf("%s: ProcessProposal accepted", c.name)
		}
	}
	r, _ := apps[0].ProcessProposal(ctx, &abci.RequestProcessProposal{Txs: prep.Txs, Height: 2, ProposerAddress: n.addr(1)})
	if r.Status != abci.ResponseProcessProposal_ACCEPT {
		t.Fatal("valid proposal rejected")
	}
}

func TestCheckTxRejectsBeaconEntries(t *testing.T) {
	n := newTestNet(t, 1)
	a := n.app(0, t.TempDir())
	n.initChain(a)
	e, _, _ := ProveBeacon(n.keys[0], GenesisBeacon(testChainID), 1)
	r, err := a.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: e.Encode()})
	if err != nil || r.Code != CodeBeaconTx || r.Codespace != Codespace {
		t.Fatalf("CheckTx(beacon) = %+v, %v", r, err)
	}
	// Several txs of one account may wait in the mempool together.
	for i := range 3 {
		if r, _ := a.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: n.transfer(uint64(i + 1))}); r.Code != 0 {
			t.Fatalf("CheckTx #%d: %+v", i, r)
		}
	}
}

func TestFinalizeBlockEventsAndBeacon(t *testing.T) {
	n := newTestNet(t, 2)
	apps := []*App{n.app(0, t.TempDir()), n.app(1, t.TempDir())}
	for _, a := range apps {
		n.initChain(a)
	}
	bad := n.transfer(1)
	bad[len(bad)-1] ^= 1 // breaks the signature
	n.nonce--
	fbs := n.block(1, 1, apps, n.transfer(7), bad)
	fb := fbs[0]
	if len(fb.TxResults) != 3 {
		t.Fatalf("%d tx results for 3 txs", len(fb.TxResults))
	}
	if fb.TxResults[1].Code != 0 || len(fb.TxResults[1].Events) == 0 || fb.TxResults[1].Events[0].Type != contract.EventTransfer {
		t.Errorf("transfer result %+v", fb.TxResults[1])
	}
	if fb.TxResults[2].Code != contract.CodeBadSignature {
		t.Errorf("bad signature gave code %d", fb.TxResults[2].Code)
	}
	if fb.Events[0].Type != EventBeacon {
		t.Fatalf("first block event %q, want %q", fb.Events[0].Type, EventBeacon)
	}
	if string(fbs[0].AppHash) != string(fbs[1].AppHash) {
		t.Error("replicas disagree on the app hash")
	}
	// The beacon recorded is the VRF output of the proposer over (genesis beacon ‖ 1).
	_, want, _ := ProveBeacon(n.keys[1], GenesisBeacon(testChainID), 1)
	if apps[0].rec.Beacon != want {
		t.Errorf("beacon %x, want %x", apps[0].rec.Beacon, want)
	}
}

// TestRestartResumesAndReplays: an app reopened from its store reports the
// committed height and hash; a block finalized but not committed is lost and
// replaying it gives the same hash; a fresh replica replaying every block
// from genesis reaches the same hash.
func TestRestartResumesAndReplays(t *testing.T) {
	n := newTestNet(t, 1)
	dir := t.TempDir()
	a := n.app(0, dir)
	n.initChain(a)
	for h := int64(1); h <= 5; h++ {
		n.block(h, 0, []*App{a}, n.transfer(uint64(h)), n.transfer(uint64(h+10)))
	}
	before := info(t, a)
	if before.LastBlockHeight != 5 {
		t.Fatalf("height %d, want 5", before.LastBlockHeight)
	}

	// A fresh replica replaying the decided blocks reaches the same state.
	fresh := n.app(0, t.TempDir())
	n.initChain(fresh)
	for _, req := range n.history {
		if _, err := fresh.FinalizeBlock(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := info(t, fresh); string(got.LastBlockAppHash) != string(before.LastBlockAppHash) {
		t.Fatalf("replayed replica hash %x, want %x", got.LastBlockAppHash, before.LastBlockAppHash)
	}

	// Reopen: same height and hash, and queries answer from the loaded state.
	b := n.app(0, dir)
	if got := info(t, b); got.LastBlockHeight != 5 || string(got.LastBlockAppHash) != string(before.LastBlockAppHash) {
		t.Fatalf("reopened: %+v, want %+v", got, before)
	}
	q, err := b.Query(context.Background(), &abci.RequestQuery{Path: "account/" + AddressOf(n.faucet).String()})
	if err != nil || q.Code != 0 {
		t.Fatalf("query after reopen: %+v, %v", q, err)
	}
	var acct contract.AccountInfo
	if err := json.Unmarshal(q.Value, &acct); err != nil || acct.Nonce != 10 {
		t.Fatalf("account after reopen: %+v, %v", acct, err)
	}

	// Finalize block 6 without Commit, then "crash": the reopened app is at 5.
	ctx := context.Background()
	txs := [][]byte{n.transfer(99)}
	prep, _ := b.PrepareProposal(ctx, &abci.RequestPrepareProposal{Txs: txs, MaxTxBytes: 1 << 20, Height: 6, ProposerAddress: n.addr(0)})
	req6 := &abci.RequestFinalizeBlock{Txs: prep.Txs, Height: 6, Time: n.time.Add(time.Second), ProposerAddress: n.addr(0)}
	fb6, err := b.FinalizeBlock(ctx, req6)
	if err != nil {
		t.Fatal(err)
	}
	c := n.app(0, dir)
	if got := info(t, c); got.LastBlockHeight != 5 {
		t.Fatalf("uncommitted block survived a crash: height %d", got.LastBlockHeight)
	}
	fb6again, err := c.FinalizeBlock(ctx, req6)
	if err != nil {
		t.Fatal(err)
	}
	if string(fb6again.AppHash) != string(fb6.AppHash) {
		t.Fatal("replaying the same block gave another app hash")
	}
	if _, err := c.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	if got := info(t, n.app(0, dir)); got.LastBlockHeight != 6 || string(got.LastBlockAppHash) != string(fb6.AppHash) {
		t.Fatalf("after replay and commit: %+v", got)
	}
}

func TestQueryCodes(t *testing.T) {
	n := newTestNet(t, 1)
	a := n.app(0, t.TempDir())
	n.initChain(a)
	ctx := context.Background()
	for path, want := range map[string]uint32{
		"params":                              0,
		"/params":                             0,
		"chain/info":                          0,
		"node/" + contract.Address{}.String(): CodeQueryNotFound,
		"no/such/path":                        CodeQueryBad,
	} {
		r, err := a.Query(ctx, &abci.RequestQuery{Path: path})
		if err != nil || r.Code != want {
			t.Errorf("query %q: code %d (%s), %v; want code %d", path, r.Code, r.Log, err, want)
		}
	}
}

func TestPrepareProposalLimits(t *testing.T) {
	n := newTestNet(t, 1)
	a := n.app(0, t.TempDir())
	n.initChain(a)
	e, _, _ := ProveBeacon(n.keys[0], GenesisBeacon(testChainID), 1)
	txs := [][]byte{e.Encode(), n.transfer(1), n.transfer(2), n.transfer(3)}
	// Room for the beacon entry and two transfers (each adds a few bytes of framing).
	limit := int64(BeaconEntrySize + 2*len(txs[1]) + 3*4)
	r, err := a.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{Txs: txs, MaxTxBytes: limit, Height: 1, ProposerAddress: n.addr(0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Txs) != 3 || string(r.Txs[1]) != string(txs[1]) || string(r.Txs[2]) != string(txs[2]) {
		t.Fatalf("got %d txs; want the beacon entry and the first two transfers (the submitted entry dropped)", len(r.Txs))
	}
	if err := a.checkProposal(r.Txs, 1, n.addr(0)); err != nil {
		t.Fatalf("own proposal fails the check: %v", err)
	}
}

func TestInitChainRejectsOtherChainID(t *testing.T) {
	n := newTestNet(t, 1)
	a, err := NewApp(AppConfig{ChainID: "other", StatePath: filepath.Join(t.TempDir(), "app.state"), PrivKey: n.keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.InitChain(context.Background(), &abci.RequestInitChain{ChainId: "other", Validators: n.vals, AppStateBytes: n.genesis, InitialHeight: 1})
	if err == nil {
		t.Fatal("InitChain accepted a genesis for another chain")
	}
}
