package chain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/splitup/splitup/contract"
)

// Adapter result codes, reported with Codespace "chain" so they never mix
// with the contract's codes (which use the empty codespace).
const (
	// Codespace is the ABCI codespace of adapter-level failures.
	Codespace = "chain"
	// CodeBeaconTx rejects a beacon entry submitted as an ordinary tx.
	CodeBeaconTx uint32 = 1
	// CodeQueryNotFound is a query for an object that does not exist.
	CodeQueryNotFound uint32 = 2
	// CodeQueryBad is a malformed query path or argument.
	CodeQueryBad uint32 = 3
)

// EventBeacon is the FinalizeBlock event that carries each block's beacon.
// Attributes: height, beacon (hex), proposer (validator address, hex).
const EventBeacon = "Beacon"

// AppConfig configures an App.
type AppConfig struct {
	// ChainID is the genesis chain id.
	ChainID string
	// StatePath is the file Commit writes the state to (created on first commit).
	StatePath string
	// PrivKey is this validator's ed25519 private key (64 bytes), used to
	// prove beacons when it proposes; nil for a non-validator.
	PrivKey []byte
}

// Validate checks the configuration.
func (c AppConfig) Validate() error {
	switch {
	case c.ChainID == "":
		return errors.New("app config: empty chain id")
	case c.StatePath == "":
		return errors.New("app config: empty state path")
	case c.PrivKey != nil && len(c.PrivKey) != 64:
		return fmt.Errorf("app config: private key has %d bytes, want 64 (ed25519)", len(c.PrivKey))
	}
	return nil
}

// App is the ABCI++ application: CometBFT drives it, it drives contract.State.
// CometBFT calls it from several connections at once (consensus, mempool,
// query); mu serialises them because contract.State is single-threaded.
type App struct {
	abci.BaseApplication
	cfg   AppConfig
	store recordStore
	self  []byte // our validator address, or nil

	mu      sync.Mutex
	settled *sync.Cond        // broadcast by Commit; Query waits on it while pending != nil
	state   *contract.State   // nil until InitChain or a load
	rec     appRecord         // last committed record (Snapshot field unused)
	pending *appRecord        // staged by FinalizeBlock, persisted by Commit
	byAddr  map[string][]byte // validator address (20 bytes) → ed25519 public key
}

var _ abci.Application = (*App)(nil)

// NewApp loads the last committed state from cfg.StatePath, if any.
func NewApp(cfg AppConfig) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, store: recordStore{path: cfg.StatePath}}
	a.settled = sync.NewCond(&a.mu)
	if cfg.PrivKey != nil {
		a.self = cmted25519.PrivKey(cfg.PrivKey).PubKey().Address()
	}
	r, err := a.store.load()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return a, nil
	}
	st, err := contract.LoadState(r.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("load contract state from %s: %w", cfg.StatePath, err)
	}
	if got := st.AppHash(); got != r.AppHash {
		return nil, fmt.Errorf("load contract state from %s: app hash %x, record says %x", cfg.StatePath, got, r.AppHash)
	}
	a.state = st
	a.setRecord(r)
	return a, nil
}

func (a *App) setRecord(r *appRecord) {
	a.rec = *r
	a.rec.Snapshot = nil
	a.byAddr = make(map[string][]byte, len(r.Validators))
	for _, v := range r.Validators {
		a.byAddr[string(cmted25519.PubKey(v.PubKey[:]).Address())] = bytes32(v.PubKey)
	}
}

func bytes32(b [32]byte) []byte { return b[:] }

// Info reports the last committed height and app hash so that CometBFT
// replays the blocks the app has not committed yet.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := &abci.ResponseInfo{Data: "splitup", Version: "1", AppVersion: 1}
	if a.state != nil && a.rec.Height > 0 {
		resp.LastBlockHeight = a.rec.Height
		resp.LastBlockAppHash = bytes32(a.rec.AppHash)
	}
	return resp, nil
}

// InitChain builds the genesis state from the contract Genesis in app_state.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	var g contract.Genesis
	if err := json.Unmarshal(req.AppStateBytes, &g); err != nil {
		return nil, fmt.Errorf("init chain: app_state is not a contract genesis: %w", err)
	}
	if g.ChainID == "" {
		g.ChainID = req.ChainId
	}
	if g.ChainID != req.ChainId || g.ChainID != a.cfg.ChainID {
		return nil, fmt.Errorf("init chain: app_state chain id %q differs from genesis chain id %q", g.ChainID, req.ChainId)
	}
	st, err := contract.NewState(g)
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	r := &appRecord{Height: req.InitialHeight - 1, AppHash: st.AppHash(), Beacon: GenesisBeacon(g.ChainID)}
	for _, v := range req.Validators {
		pk := v.PubKey.GetEd25519()
		if len(pk) != 32 {
			return nil, fmt.Errorf("init chain: validator key is not ed25519 (the beacon needs ed25519 keys)")
		}
		r.Validators = append(r.Validators, validator{PubKey: [32]byte(pk), Power: v.Power})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = st
	a.setRecord(r)
	return &abci.ResponseInitChain{AppHash: bytes32(r.AppHash)}, nil
}

// CheckTx admits a tx to the mempool if the contract accepts it.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	if isBeaconTx(req.Tx) {
		return &abci.ResponseCheckTx{Code: CodeBeaconTx, Codespace: Codespace, Log: "beacon entries are added by the proposer, not submitted"}, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == nil {
		return nil, errors.New("check tx: chain not initialised")
	}
	r := a.state.CheckTx(req.Tx)
	return &abci.ResponseCheckTx{Code: r.Code, Log: r.Log}, nil
}

// PrepareProposal puts this proposer's beacon entry first, then the mempool
// txs that fit in MaxTxBytes.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	a.mu.Lock()
	prev := a.rec.Beacon
	a.mu.Unlock()
	if a.cfg.PrivKey == nil {
		return nil, errors.New("prepare proposal: this node has no validator key")
	}
	entry, _, err := ProveBeacon(a.cfg.PrivKey, prev, req.Height)
	if err != nil {
		return nil, fmt.Errorf("prepare proposal: %w", err)
	}
	first := entry.Encode()
	txs := [][]byte{first}
	size := cmttypes.ComputeProtoSizeForTxs([]cmttypes.Tx{first})
	for _, tx := range req.Txs {
		if isBeaconTx(tx) {
			continue
		}
		n := cmttypes.ComputeProtoSizeForTxs([]cmttypes.Tx{tx})
		if size+n > req.MaxTxBytes {
			break
		}
		size += n
		txs = append(txs, tx)
	}
	return &abci.ResponsePrepareProposal{Txs: txs}, nil
}

// ProcessProposal accepts a block only if its first tx is a beacon entry
// proved by the block's proposer over (previous beacon ‖ height) and no
// other tx is a beacon entry.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	if err := a.checkProposal(req.Txs, req.Height, req.ProposerAddress); err != nil {
		return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// checkProposal is ProcessProposal's rule as an error.
func (a *App) checkProposal(txs [][]byte, height int64, proposer []byte) error {
	if len(txs) == 0 {
		return ErrNoBeacon
	}
	e, err := DecodeBeaconEntry(txs[0])
	if err != nil {
		return err
	}
	for _, tx := range txs[1:] {
		if isBeaconTx(tx) {
			return ErrBeaconMisplace
		}
	}
	a.mu.Lock()
	prev, pub := a.rec.Beacon, a.byAddr[string(proposer)]
	a.mu.Unlock()
	if pub == nil {
		return ErrUnknownSigner
	}
	_, err = VerifyBeacon(pub, prev, height, e)
	return err
}

// FinalizeBlock runs the decided block through the contract: BeginBlock with
// the block's beacon, DeliverTx for every tx after the beacon entry,
// EndBlock. The resulting state is staged; Commit makes it durable.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == nil {
		return nil, errors.New("finalize block: chain not initialised")
	}
	if a.pending != nil {
		return nil, fmt.Errorf("finalize block %d: block %d not committed yet", req.Height, a.pending.Height)
	}
	if req.Height != a.rec.Height+1 {
		return nil, fmt.Errorf("finalize block %d: app is at height %d", req.Height, a.rec.Height)
	}
	beacon, beaconEvent := a.blockBeacon(req)
	h := contract.Header{ChainID: a.cfg.ChainID, Height: req.Height, TimeUnixNano: req.Time.UnixNano(), Beacon: beacon}
	events := []abci.Event{beaconEvent}
	events = appendEvents(events, a.state.BeginBlock(h))
	results := make([]*abci.ExecTxResult, len(req.Txs))
	for i, tx := range req.Txs {
		if i == 0 && isBeaconTx(tx) {
			results[i] = &abci.ExecTxResult{Codespace: Codespace}
			continue
		}
		r := a.state.DeliverTx(tx)
		results[i] = &abci.ExecTxResult{Code: r.Code, Log: r.Log, Events: appendEvents(nil, r.Events)}
	}
	events = appendEvents(events, a.state.EndBlock())
	snap := a.state.Snapshot()
	a.pending = &appRecord{Height: req.Height, AppHash: sha256.Sum256(snap), Beacon: beacon, Validators: a.rec.Validators, Snapshot: snap}
	return &abci.ResponseFinalizeBlock{Events: events, TxResults: results, AppHash: bytes32(a.pending.AppHash)}, nil
}

// blockBeacon derives the block's beacon from its (already accepted) entry.
// A decided block always carries a valid entry unless more than a third of
// the voting power is faulty; then a deterministic fallback keeps every
// replica in agreement rather than halting.
func (a *App) blockBeacon(req *abci.RequestFinalizeBlock) ([32]byte, abci.Event) {
	prev := a.rec.Beacon
	var beacon [32]byte
	err := ErrNoBeacon
	if len(req.Txs) > 0 {
		var e BeaconEntry
		if e, err = DecodeBeaconEntry(req.Txs[0]); err == nil {
			if pub := a.byAddr[string(req.ProposerAddress)]; pub != nil {
				beacon, err = VerifyBeacon(pub, prev, req.Height, e)
			} else {
				err = ErrUnknownSigner
			}
		}
	}
	attrs := []abci.EventAttribute{
		{Key: "height", Value: strconv.FormatInt(req.Height, 10), Index: true},
		{Key: "proposer", Value: hex.EncodeToString(req.ProposerAddress), Index: true},
	}
	if err != nil {
		beacon = sha256.Sum256(append([]byte("splitup/beacon/fallback"), BeaconInput(prev, req.Height)...))
		attrs = append(attrs, abci.EventAttribute{Key: "fallback", Value: "true", Index: true})
	}
	attrs = append(attrs, abci.EventAttribute{Key: "beacon", Value: hex.EncodeToString(beacon[:]), Index: true})
	return beacon, abci.Event{Type: EventBeacon, Attributes: attrs}
}

func appendEvents(dst []abci.Event, evs []contract.Event) []abci.Event {
	for _, e := range evs {
		ae := abci.Event{Type: e.Type, Attributes: make([]abci.EventAttribute, len(e.Attrs))}
		for i, at := range e.Attrs {
			ae.Attributes[i] = abci.EventAttribute{Key: at.Key, Value: at.Value, Index: true}
		}
		dst = append(dst, ae)
	}
	return dst
}

// Commit makes the staged block durable. A storage failure is returned as an
// error, which stops the node: it must not vote on blocks it cannot keep.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		return nil, errors.New("commit: no finalized block")
	}
	if err := a.store.save(a.pending); err != nil {
		return nil, fmt.Errorf("commit block %d: %w", a.pending.Height, err)
	}
	a.rec = *a.pending
	a.rec.Snapshot = nil
	a.pending = nil
	a.settled.Broadcast()
	return &abci.ResponseCommit{}, nil
}

// ChainInfo is the answer to the adapter's own query path "chain/info".
type ChainInfo struct {
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	Beacon  string `json:"beacon"`
}

// Query answers from committed state: "chain/info" here, every other path
// by contract.State.Query (see its documentation for the paths).
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	path := strings.TrimPrefix(req.Path, "/")
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.pending != nil {
		a.settled.Wait()
	}
	resp := &abci.ResponseQuery{Height: a.rec.Height}
	if a.state == nil {
		resp.Code, resp.Codespace, resp.Log = CodeQueryNotFound, Codespace, "chain not initialised"
		return resp, nil
	}
	if path == "chain/info" {
		resp.Value, _ = json.Marshal(ChainInfo{
			ChainID: a.cfg.ChainID, Height: a.rec.Height,
			AppHash: hex.EncodeToString(a.rec.AppHash[:]), Beacon: hex.EncodeToString(a.rec.Beacon[:]),
		})
		return resp, nil
	}
	v, err := a.state.Query(path, req.Data)
	if err != nil {
		resp.Code, resp.Codespace, resp.Log = queryCode(err), Codespace, err.Error()
		return resp, nil
	}
	resp.Value = v
	return resp, nil
}
