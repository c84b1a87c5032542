package chain

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// newBlockQuery is the one websocket subscription a client holds; events
// are filtered by type on this side.
const newBlockQuery = "tm.event='NewBlock'"

// unsubscribeTimeout bounds ending a watch's subscriptions.
const unsubscribeTimeout = 5 * time.Second

// Subscribe implements Client. Events are never dropped on this side: each
// subscriber has its own queue. Events of blocks committed while the
// websocket was reconnecting are missed; reconcile with Query after a gap in
// Height.
func (c *RPCClient) Subscribe(ctx context.Context, types ...string) (<-chan BlockEvent, error) {
	if c.isClosed() {
		return nil, errClosed
	}
	if err := c.startEvents(); err != nil {
		return nil, err
	}
	s := &subscriber{out: make(chan BlockEvent, 64), wake: make(chan struct{}, 1)}
	if len(types) > 0 {
		s.types = make(map[string]bool, len(types))
		for _, t := range types {
			s.types[t] = true
		}
	}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	go func() {
		s.run(ctx, c.closed)
		c.mu.Lock()
		delete(c.subs, s)
		c.mu.Unlock()
	}()
	return s.out, nil
}

// startEvents opens the websocket and the NewBlock subscription once.
func (c *RPCClient) startEvents() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	if err := c.startWebsocket(); err != nil {
		return err
	}
	ch, err := c.rpc.Subscribe(context.Background(), "splitup", newBlockQuery, 1000)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	c.started = true
	go c.pump(ch)
	return nil
}

// startWebsocket opens the websocket once; c.mu is held.
func (c *RPCClient) startWebsocket() error {
	if c.wsOpen {
		return nil
	}
	if err := c.rpc.Start(); err != nil {
		return fmt.Errorf("subscribe: open websocket: %w", err)
	}
	c.wsOpen = true
	return nil
}

// Watch implements Client with two filtered websocket subscriptions, one
// for txs and one for blocks, so that the validator sends only the txs
// and blocks holding a matching event instead of every block.
func (c *RPCClient) Watch(ctx context.Context, typ, key, value string) (<-chan BlockEvent, error) {
	if !queryWord.MatchString(typ) || !queryWord.MatchString(key) || strings.ContainsAny(value, `'\`) {
		return nil, fmt.Errorf("watch: event %q attribute %q value %q cannot be queried", typ, key, value)
	}
	if c.isClosed() {
		return nil, errClosed
	}
	cond := fmt.Sprintf(" AND %s.%s='%s'", typ, key, value)
	c.mu.Lock()
	err := c.startWebsocket()
	if err == nil && c.watches[cond] {
		// the websocket client keys subscriptions by query
		err = fmt.Errorf("watch: this client already watches %s %s=%s", typ, key, value)
	}
	if err == nil {
		c.watches[cond] = true
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	release := func() {
		c.mu.Lock()
		delete(c.watches, cond)
		c.mu.Unlock()
	}
	queries := []string{"tm.event='Tx'" + cond, "tm.event='NewBlock'" + cond}
	var chans []<-chan ctypes.ResultEvent
	for _, q := range queries {
		ch, err := c.rpc.Subscribe(ctx, "splitup", q, 1000)
		if err != nil {
			for _, done := range queries[:len(chans)] {
				c.rpc.Unsubscribe(context.Background(), "splitup", done)
			}
			release()
			return nil, fmt.Errorf("watch: %w", err)
		}
		chans = append(chans, ch)
	}
	s := &subscriber{out: make(chan BlockEvent, 64), wake: make(chan struct{}, 1)} // match filters
	match := func(evs []BlockEvent) []BlockEvent {
		var out []BlockEvent
		for _, e := range evs {
			if e.Type == typ && e.Attr(key) == value {
				out = append(out, e)
			}
		}
		return out
	}
	go func() {
		defer func() {
			// Bounded: the websocket client's unsubscribe waits for it to
			// take the request, which a reconnecting client does not.
			uctx, cancel := context.WithTimeout(context.Background(), unsubscribeTimeout)
			defer cancel()
			for _, q := range queries {
				c.rpc.Unsubscribe(uctx, "splitup", q)
			}
			release()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.closed:
				return
			case ev, open := <-chans[0]:
				if !open {
					return // the client closed
				}
				if tx, ok := ev.Data.(cmttypes.EventDataTx); ok {
					s.push(match(txEvents(tx)))
				}
			case ev, open := <-chans[1]:
				if !open {
					return
				}
				if nb, ok := ev.Data.(cmttypes.EventDataNewBlock); ok && nb.Block != nil {
					s.push(match(blockEvents(nb)))
				}
			}
		}
	}()
	go s.run(ctx, c.closed)
	return s.out, nil
}

// errClosed is returned by Subscribe and Watch after Close.
var errClosed = errors.New("chain client: closed")

func (c *RPCClient) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// queryWord is what an event type or attribute key must look like to be
// put into a query.
var queryWord = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// txEvents are the contract events of one tx.
func txEvents(tx cmttypes.EventDataTx) []BlockEvent {
	hash := hex.EncodeToString(cmttypes.Tx(tx.Tx).Hash())
	var out []BlockEvent
	for _, e := range contractEvents(tx.Result.Events) {
		out = append(out, BlockEvent{Height: tx.Height, TxHash: hash, Event: e})
	}
	return out
}

// pump fans the NewBlock stream out to the subscribers until the stream
// or the client closes.
func (c *RPCClient) pump(ch <-chan ctypes.ResultEvent) {
	for {
		var ev ctypes.ResultEvent
		select {
		case <-c.closed:
			return
		case e, open := <-ch:
			if !open {
				return
			}
			ev = e
		}
		nb, ok := ev.Data.(cmttypes.EventDataNewBlock)
		if !ok || nb.Block == nil {
			continue
		}
		evs := blockEvents(nb)
		c.mu.Lock()
		for s := range c.subs {
			s.push(evs)
		}
		c.mu.Unlock()
	}
}

// blockEvents flattens a block's events: tx events in tx order, then the
// block-level events (Beacon, BeginBlock, EndBlock).
func blockEvents(nb cmttypes.EventDataNewBlock) []BlockEvent {
	h := nb.Block.Height
	var out []BlockEvent
	for i, r := range nb.ResultFinalizeBlock.TxResults {
		if r == nil || i >= len(nb.Block.Txs) {
			continue
		}
		hash := hex.EncodeToString(nb.Block.Txs[i].Hash())
		for _, e := range contractEvents(r.Events) {
			out = append(out, BlockEvent{Height: h, TxHash: hash, Event: e})
		}
	}
	for _, e := range contractEvents(nb.ResultFinalizeBlock.Events) {
		out = append(out, BlockEvent{Height: h, Event: e})
	}
	return out
}

// subscriber is one Subscribe call: a filter, an unbounded queue and the
// goroutine (run) that owns delivery to out.
type subscriber struct {
	types map[string]bool // nil: all
	out   chan BlockEvent
	wake  chan struct{}

	mu    sync.Mutex // guards queue
	queue []BlockEvent
}

func (s *subscriber) push(evs []BlockEvent) {
	s.mu.Lock()
	for _, e := range evs {
		if s.types == nil || s.types[e.Type] {
			s.queue = append(s.queue, e)
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run delivers the queue to out until ctx ends or closed closes, then
// closes out.
func (s *subscriber) run(ctx context.Context, closed <-chan struct{}) {
	defer close(s.out)
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, e := range batch {
			select {
			case s.out <- e:
			case <-ctx.Done():
				return
			case <-closed:
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-closed:
			return
		case <-s.wake:
		}
	}
}
