package chain

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/splitup/splitup/contract"
)

// Client talks to a validator over CometBFT's RPC. It is what nodes, the
// gateway and the CLIs use; tests may substitute their own implementation.
type Client interface {
	// BroadcastTx submits an encoded tx and waits until a block includes it.
	// A tx refused by CheckTx or failing in its block returns a *TxError.
	BroadcastTx(ctx context.Context, tx []byte) (*TxResult, error)
	// Submit returns once the node's mempool has accepted the tx (a
	// *TxError if refused); txs submitted one after another from one
	// goroutine keep their order. It returns the tx hash for WaitTx.
	Submit(ctx context.Context, tx []byte) ([]byte, error)
	// WaitTx waits until the tx with the given hash is in a block.
	WaitTx(ctx context.Context, hash []byte) (*TxResult, error)
	// Query runs a read-only query against committed state.
	Query(ctx context.Context, path string, data []byte) ([]byte, error)
	// Status reports the node's latest block.
	Status(ctx context.Context) (*Status, error)
	// Subscribe delivers, in block order, the events whose type is in types
	// (all events if types is empty) until ctx ends or the client closes;
	// then the channel closes.
	Subscribe(ctx context.Context, types ...string) (<-chan BlockEvent, error)
	// Watch delivers the events of type typ whose attribute key equals
	// value, from txs and from block-level events, until ctx ends or the
	// client closes; then the channel closes. Only matching txs and blocks
	// are sent by the validator, so it costs an idle watcher nothing per
	// block; events of different blocks may arrive out of block order. A
	// client holds one Watch of the same (typ, key, value) at a time.
	Watch(ctx context.Context, typ, key, value string) (<-chan BlockEvent, error)
	// Close releases the connection and ends every Subscribe and Watch.
	Close() error
}

// TxResult is the outcome of a tx included in a block.
type TxResult struct {
	Hash      string           `json:"hash"` // hex SHA-256 of the tx bytes
	Height    int64            `json:"height"`
	Code      uint32           `json:"code"`
	Codespace string           `json:"codespace,omitempty"`
	Log       string           `json:"log,omitempty"`
	Events    []contract.Event `json:"events,omitempty"`
}

// TxError reports a tx that CheckTx refused (Stage "check") or that failed
// in its block (Stage "deliver"). Code is a contract.Code* value unless
// Codespace is "chain".
type TxError struct {
	Stage     string
	Code      uint32
	Codespace string
	Log       string
}

func (e *TxError) Error() string {
	where := "refused by the mempool"
	if e.Stage == "deliver" {
		where = "failed in its block"
	}
	if e.Codespace != "" {
		return fmt.Sprintf("tx %s: %s code %d: %s", where, e.Codespace, e.Code, e.Log)
	}
	return fmt.Sprintf("tx %s: code %d: %s", where, e.Code, e.Log)
}

// QueryError is a query the application answered with a non-zero code.
type QueryError struct {
	Code uint32
	Log  string
}

func (e *QueryError) Error() string { return fmt.Sprintf("query: %s", e.Log) }

// IsNotFound reports whether err is a query for an object that does not exist.
func IsNotFound(err error) bool {
	var q *QueryError
	return errors.As(err, &q) && q.Code == CodeQueryNotFound
}

// Status is a node's view of the chain.
type Status struct {
	ChainID    string    `json:"chain_id"`
	Moniker    string    `json:"moniker"`
	NodeID     string    `json:"node_id"`
	Height     int64     `json:"height"`
	AppHash    string    `json:"app_hash"`
	BlockTime  time.Time `json:"block_time"`
	CatchingUp bool      `json:"catching_up"`
}

// BlockEvent is a contract (or adapter) event of a committed block.
type BlockEvent struct {
	Height int64
	// TxHash is the hex hash of the tx that emitted the event; empty for
	// block-level events (BeginBlock, EndBlock, Beacon).
	TxHash string
	contract.Event
}

// Attr returns the value of the event's attribute key ("" if absent).
func (e BlockEvent) Attr(key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// RPCClient is the Client over CometBFT's HTTP and websocket RPC.
type RPCClient struct {
	rpc  *rpchttp.HTTP
	poll time.Duration

	mu      sync.Mutex      // guards the fields below
	wsOpen  bool            // the websocket is started
	started bool            // the NewBlock subscription is running
	watches map[string]bool // the conditions of the running Watch calls
	subs    map[*subscriber]struct{}
	closed  chan struct{} // closed by Close: ends every subscription and watch
}

var _ Client = (*RPCClient)(nil)

// Dial returns a client for the RPC at url (e.g. "http://127.0.0.1:26657").
// It does not contact the node until the first call.
func Dial(url string) (*RPCClient, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "tcp://") {
		return nil, fmt.Errorf("rpc address %q: want http://host:port", url)
	}
	c, err := rpchttp.New(url, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("rpc client %s: %w", url, err)
	}
	return &RPCClient{rpc: c, poll: 50 * time.Millisecond, subs: map[*subscriber]struct{}{}, watches: map[string]bool{},
		closed: make(chan struct{})}, nil
}

// BroadcastTx implements Client: Submit, then WaitTx.
func (c *RPCClient) BroadcastTx(ctx context.Context, tx []byte) (*TxResult, error) {
	hash, err := c.Submit(ctx, tx)
	if err != nil {
		return nil, err
	}
	return c.WaitTx(ctx, hash)
}

// Submit implements Client with broadcast_tx_sync.
func (c *RPCClient) Submit(ctx context.Context, tx []byte) ([]byte, error) {
	hash := cmttypes.Tx(tx).Hash()
	res, err := c.rpc.BroadcastTxSync(ctx, tx)
	switch {
	case err != nil && strings.Contains(err.Error(), "tx already exists in cache"):
		// Submitted before; it can be waited for like any other.
	case err != nil:
		return nil, fmt.Errorf("broadcast tx: %w", err)
	case res.Code != abci.CodeTypeOK:
		return nil, &TxError{Stage: "check", Code: res.Code, Codespace: res.Codespace, Log: res.Log}
	}
	return hash, nil
}

// WaitTx implements Client by polling the node's tx index.
func (c *RPCClient) WaitTx(ctx context.Context, hash []byte) (*TxResult, error) {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		r, err := c.rpc.Tx(ctx, hash, false)
		if err == nil {
			return txResult(r)
		}
		if !strings.Contains(err.Error(), "not found") {
			return nil, fmt.Errorf("wait for tx %X: %w", hash, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for tx %X: %w", hash, ctx.Err())
		case <-t.C:
		}
	}
}

func txResult(r *ctypes.ResultTx) (*TxResult, error) {
	out := &TxResult{
		Hash: hex.EncodeToString(r.Hash), Height: r.Height,
		Code: r.TxResult.Code, Codespace: r.TxResult.Codespace, Log: r.TxResult.Log,
		Events: contractEvents(r.TxResult.Events),
	}
	if out.Code != abci.CodeTypeOK {
		return out, &TxError{Stage: "deliver", Code: out.Code, Codespace: out.Codespace, Log: out.Log}
	}
	return out, nil
}

func contractEvents(evs []abci.Event) []contract.Event {
	out := make([]contract.Event, 0, len(evs))
	for _, e := range evs {
		ce := contract.Event{Type: e.Type, Attrs: make([]contract.Attr, len(e.Attributes))}
		for i, a := range e.Attributes {
			ce.Attrs[i] = contract.Attr{Key: a.Key, Value: a.Value}
		}
		out = append(out, ce)
	}
	return out
}

// Query implements Client.
func (c *RPCClient) Query(ctx context.Context, path string, data []byte) ([]byte, error) {
	res, err := c.rpc.ABCIQuery(ctx, path, data)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	if res.Response.Code != abci.CodeTypeOK {
		return nil, &QueryError{Code: res.Response.Code, Log: res.Response.Log}
	}
	return res.Response.Value, nil
}

// Status implements Client.
func (c *RPCClient) Status(ctx context.Context) (*Status, error) {
	s, err := c.rpc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &Status{
		ChainID: s.NodeInfo.Network, Moniker: s.NodeInfo.Moniker, NodeID: string(s.NodeInfo.DefaultNodeID),
		Height: s.SyncInfo.LatestBlockHeight, AppHash: hex.EncodeToString(s.SyncInfo.LatestAppHash),
		BlockTime: s.SyncInfo.LatestBlockTime, CatchingUp: s.SyncInfo.CatchingUp,
	}, nil
}

// AppInfo reports the height and app hash the application itself last committed.
func (c *RPCClient) AppInfo(ctx context.Context) (height int64, appHash string, err error) {
	r, err := c.rpc.ABCIInfo(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("abci info: %w", err)
	}
	return r.Response.LastBlockHeight, hex.EncodeToString(r.Response.LastBlockAppHash), nil
}

// BlockAppHash returns the app hash recorded in the header of block height,
// i.e. the state after block height-1.
func (c *RPCClient) BlockAppHash(ctx context.Context, height int64) (string, error) {
	b, err := c.rpc.Block(ctx, &height)
	if err != nil {
		return "", fmt.Errorf("block %d: %w", height, err)
	}
	return hex.EncodeToString(b.Block.AppHash), nil
}

// Close implements Client. It closes the channels of every Subscribe and
// Watch; the client cannot be used for them again.
func (c *RPCClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	if !c.wsOpen {
		return nil
	}
	c.wsOpen, c.started = false, false
	if err := c.rpc.Stop(); err != nil {
		return fmt.Errorf("close rpc client: %w", err)
	}
	return nil
}
