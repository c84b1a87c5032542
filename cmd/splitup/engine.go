package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/gateway"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/pipeline"
)

// chainEngine is a gateway.Engine over the network: each session is one
// chain execution (RequestExecution) whose tasks run on the nodes the chain
// assigns, reached through a pipeline session.
type chainEngine struct {
	client    chain.Client
	signer    *chain.Signer // pays for executions and reports failed nodes
	host      *p2p.Host
	model     contract.Hash
	tasks     []pipeline.Task
	maxTokens uint32 // positions one execution may run (the model's context)
	vocab     int    // the model's vocabulary size
	info      contract.ModelInfo
	params    contract.Params // the price parameters, read at start
}

// newChainEngine reads the model and the price parameters from the chain.
func newChainEngine(ctx context.Context, c chain.Client, s *chain.Signer, h *p2p.Host, model contract.Hash, contextLen, vocab int) (*chainEngine, error) {
	if pub, err := p2p.PublicKeyOf(h.ID()); err != nil || contract.Address(pub) != s.Address() {
		return nil, fmt.Errorf("the gateway's p2p host (peer %s) must use the key of the account %s that requests executions: nodes serve only an execution's requester", h.ID(), s.Address())
	}
	var m contract.ModelInfo
	if err := queryInto(ctx, c, "model/"+model.String(), &m); err != nil {
		return nil, err
	}
	var p contract.Params
	if err := queryInto(ctx, c, "params", &p); err != nil {
		return nil, err
	}
	e := &chainEngine{client: c, signer: s, host: h, model: model, tasks: pipeline.TasksOf(&m), maxTokens: uint32(contextLen), vocab: vocab, info: m, params: p}
	if _, err := executionFee(p, &m, e.maxTokens); err != nil {
		return nil, err
	}
	return e, nil
}

// executionFee is the escrow an execution of tokens positions needs: per
// task PricePerCU × CU × tokens, plus the verification surcharge
// ceil(price × p × Rv).
func executionFee(p contract.Params, m *contract.ModelInfo, tokens uint32) (uint64, error) {
	total := new(big.Int)
	surDen := big.NewInt(1_000_000 * 10_000) // PPM × basis points
	for _, t := range m.Tasks {
		price := new(big.Int).SetUint64(t.ComputeUnits)
		price.Mul(price, new(big.Int).SetUint64(uint64(tokens)))
		price.Mul(price, new(big.Int).SetUint64(p.PricePerCU))
		sur := new(big.Int).Mul(price, new(big.Int).SetUint64(uint64(p.VerifyPPM)*uint64(p.RewardBP)))
		sur.Add(sur, new(big.Int).Sub(surDen, big.NewInt(1)))
		sur.Quo(sur, surDen)
		total.Add(total, price).Add(total, sur)
	}
	if !total.IsUint64() {
		return 0, fmt.Errorf("an execution of model %s costs more than 2^64 base units", m.ID)
	}
	return total.Uint64(), nil
}

// NewSession is NewSessionFor the model's whole context.
func (e *chainEngine) NewSession(ctx context.Context) (gateway.Session, error) {
	return e.NewSessionFor(ctx, int(e.maxTokens))
}

// NewSessionFor requests an execution of at most positions tokens (the
// model's context at most: its escrow and its tasks' deadlines grow with
// them) and opens its pipeline; node streams open on the first Forward,
// once the chain has assigned the tasks.
func (e *chainEngine) NewSessionFor(ctx context.Context, positions int) (gateway.Session, error) {
	tokens := e.maxTokens
	if positions > 0 && positions < int(tokens) {
		tokens = uint32(positions)
	}
	fee, err := executionFee(e.params, &e.info, tokens)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", gateway.ErrUnavailable, err)
	}
	// Once submitted the request lands on chain whether or not the client
	// waits: wait for its block regardless, so that its execution is known
	// and can be cancelled, and its escrow refunded, if the client is gone.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	id, err := pipeline.RequestExecution(rctx, e.signer, e.model, fee, tokens)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", gateway.ErrUnavailable, err)
	}
	res := boundedResolver{&pipeline.ChainResolver{Client: e.client, Signer: e.signer, Exec: id, Poll: 50 * time.Millisecond}, assignTimeout}
	ps, err := pipeline.Open(pipeline.Config{Host: e.host, Model: e.model, SessionID: node.SessionID(id), Tasks: e.tasks, Resolver: res})
	if err == nil {
		err = ctx.Err() // the client left while the execution was requested
	}
	if err != nil {
		s := &chainSession{e: e, exec: id, ps: ps, failed: true} // ps is nil if Open failed
		return nil, errors.Join(err, s.Close())
	}
	return &chainSession{e: e, exec: id, ps: ps}, nil
}

// requestTimeout bounds the wait for an execution request's block.
const requestTimeout = 30 * time.Second

// assignTimeout bounds the wait for the chain to assign (or reassign) a
// task to a live node.
const assignTimeout = 30 * time.Second

// boundedResolver is a ChainResolver whose waits for an assignment end
// after timeout with ErrUnavailable (no live node holds the task).
type boundedResolver struct {
	r       *pipeline.ChainResolver
	timeout time.Duration
}

// Peer implements pipeline.Resolver.
func (b boundedResolver) Peer(ctx context.Context, task int) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	addr, err := b.r.Peer(wctx, task)
	return addr, b.unavailable(ctx, wctx, task, err)
}

// Failed implements pipeline.Resolver.
func (b boundedResolver) Failed(ctx context.Context, task int, addr string, cause error) error {
	wctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.unavailable(ctx, wctx, task, b.r.Failed(wctx, task, addr, cause))
}

// unavailable marks err as ErrUnavailable when the assignment wait timed
// out while the caller's ctx is still live.
func (b boundedResolver) unavailable(ctx, wctx context.Context, task int, err error) error {
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return fmt.Errorf("%w: no live node took task %d of execution %d within %v", gateway.ErrUnavailable, task, b.r.Exec, b.timeout)
	}
	return err
}

// chainSession is one execution's pipeline session.
type chainSession struct {
	e      *chainEngine
	exec   uint64
	ps     *pipeline.Session
	failed bool
}

// Forward runs tokens through the nodes. A failure the pipeline could not
// recover from (no replacement node left) is reported as ErrSessionLost so
// that the gateway starts a new execution and replays the history.
func (s *chainSession) Forward(ctx context.Context, tokens []int32, pos int) ([]float32, error) {
	logits, err := s.ps.Forward(ctx, tokens, pos)
	if err != nil {
		return nil, s.lost(ctx, err)
	}
	return logits, nil
}

// ForwardArgmax is Forward for greedy decoding (gateway.GreedySession): the
// node holding the logits sends only their argmax.
func (s *chainSession) ForwardArgmax(ctx context.Context, tokens []int32, pos int) (int, error) {
	id, err := s.ps.ForwardArgmax(ctx, tokens, pos)
	if err == nil && id >= s.e.vocab {
		err = fmt.Errorf("the last stage picked token %d of a %d-token vocabulary", id, s.e.vocab)
	}
	if err != nil {
		return 0, s.lost(ctx, err)
	}
	return id, nil
}

// lost marks the session failed and says how the gateway should take err.
func (s *chainSession) lost(ctx context.Context, err error) error {
	s.failed = true
	if ctx.Err() != nil || errors.Is(err, gateway.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("execution %d: %w: %v", s.exec, gateway.ErrSessionLost, err)
}

// Close ends the node sessions (the nodes then commit their results). A
// session that failed has its execution cancelled, which refunds the
// unused escrow.
func (s *chainSession) Close() error {
	var err error
	if s.ps != nil {
		err = s.ps.Close()
	}
	if s.failed {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, cerr := s.e.signer.Send(ctx, &contract.CancelExecution{Exec: s.exec})
		var te *chain.TxError
		if cerr != nil && !(errors.As(cerr, &te) && te.Code == contract.CodeBadState) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// queryInto runs a chain query and decodes its JSON answer into v.
func queryInto(ctx context.Context, c chain.Client, path string, v any) error {
	raw, err := c.Query(ctx, path, nil)
	if err != nil {
		return fmt.Errorf("query %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("query %s: %w", path, err)
	}
	return nil
}
