package chain_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// TestClient runs one validator in process and drives it through the RPC
// client: signed txs (two in flight from one account), refusals, queries
// and event subscriptions.
func TestClient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	nc := chain.DefaultNodeConfig()
	nc.LogLevel = "*:error"
	nw, err := chain.InitNetwork(chain.NetworkOptions{Dir: dir, Validators: 1, ChainID: "client-test", FaucetBalance: 1000 * contract.Token, Node: nc})
	if err != nil {
		t.Fatal(err)
	}
	n, err := chain.StartNode(filepath.Join(dir, nw.Validators[0].Home), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop() // a lone validator has no peers, so stopping it in process is safe
	c, err := chain.Dial(n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	events, err := c.Subscribe(ctx, contract.EventTransfer, chain.EventBeacon)
	if err != nil {
		t.Fatal(err)
	}
	s := faucetSigner(t, dir, c)
	to := contract.Address{7}
	var wg sync.WaitGroup
	results := make([]*chain.TxResult, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Send(ctx, &contract.Transfer{To: to, Amount: uint64(10 + i)})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got := balance(t, c, to); got != 21 {
		t.Fatalf("balance %d, want 21", got)
	}

	// Submit does not wait: three transfers in flight, then their blocks;
	// after a Resync the nonce is read again and the next transfer lands.
	var hashes [][]byte
	for i := 0; i < 3; i++ {
		h, err := s.Submit(ctx, &contract.Transfer{To: to, Amount: 100})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	for _, h := range hashes {
		if r, err := s.Wait(ctx, h); err != nil || r.Code != 0 {
			t.Fatalf("wait for a submitted transfer: %+v, %v", r, err)
		}
	}
	s.Resync()
	if _, err := s.Send(ctx, &contract.Transfer{To: to, Amount: 1000}); err != nil {
		t.Fatalf("send after resync: %v", err)
	}
	if got := balance(t, c, to); got != 1321 {
		t.Fatalf("balance %d, want 1321", got)
	}

	// Both transfers and at least one beacon arrive on the subscription.
	want := map[string]bool{results[0].Hash: true, results[1].Hash: true}
	beacons := 0
	for len(want) > 0 || beacons == 0 {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("subscription closed early")
			}
			switch e.Type {
			case chain.EventBeacon:
				if len(e.Attr("beacon")) != 64 || e.TxHash != "" {
					t.Fatalf("beacon event %+v", e)
				}
				beacons++
			case contract.EventTransfer:
				delete(want, e.TxHash)
			default:
				t.Fatalf("unfiltered event %q", e.Type)
			}
		case <-ctx.Done():
			t.Fatalf("events missing: %v, %d beacons", want, beacons)
		}
	}

	// Watch sends only the matching txs and blocks: transfers to one
	// address (tx events), and the beacons of this validator (block
	// events); nothing for another proposer.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	mine := contract.Address{8}
	transfers, err := c.Watch(wctx, contract.EventTransfer, "to", mine.String())
	if err != nil {
		t.Fatal(err)
	}
	var proposer string
	for proposer == "" {
		if e := <-events; e.Type == chain.EventBeacon {
			proposer = e.Attr("proposer")
		}
	}
	beacons2, err := c.Watch(wctx, chain.EventBeacon, "proposer", proposer)
	if err != nil {
		t.Fatal(err)
	}
	others, err := c.Watch(wctx, chain.EventBeacon, "proposer", "00")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Watch(wctx, "Bad type", "to", "x"); err == nil {
		t.Error("Watch took an event type with a space")
	}
	if _, err := c.Watch(wctx, chain.EventBeacon, "proposer", "00"); err == nil {
		t.Error("a second Watch of the same events was accepted")
	}
	if _, err := s.Send(ctx, &contract.Transfer{To: contract.Address{9}, Amount: 1}); err != nil {
		t.Fatal(err)
	}
	sent, err := s.Send(ctx, &contract.Transfer{To: mine, Amount: 2})
	if err != nil {
		t.Fatal(err)
	}
	if e := <-transfers; e.TxHash != sent.Hash || e.Attr("amount") != "2" {
		t.Fatalf("watched transfer %+v, want the one to %v in tx %s", e, mine, sent.Hash)
	}
	if e := <-beacons2; e.Attr("proposer") != proposer || e.TxHash != "" {
		t.Fatalf("watched beacon %+v", e)
	}
	select {
	case e := <-others:
		t.Fatalf("a beacon of another proposer: %+v", e)
	case e := <-transfers:
		t.Fatalf("a second transfer: %+v", e)
	case <-time.After(time.Second):
	}
	wcancel()
	for range transfers { // closes once the watch ends
	}
	if got := balance(t, c, mine); got != 2 {
		t.Fatalf("balance %d, want 2", got)
	}

	// Refusals come back as *TxError with the stage and code.
	var te *chain.TxError
	if _, err := c.BroadcastTx(ctx, []byte("garbage")); !errors.As(err, &te) || te.Stage != "check" || te.Code != contract.CodeDecode {
		t.Errorf("garbage tx: %v", err)
	}
	if _, err := c.BroadcastTx(ctx, append([]byte("SUBN"), make([]byte, 89)...)); !errors.As(err, &te) || te.Codespace != chain.Codespace || te.Code != chain.CodeBeaconTx {
		t.Errorf("beacon-looking tx: %v", err)
	}
	if _, err := c.Query(ctx, "node/"+contract.Address{1}.String(), nil); !chain.IsNotFound(err) {
		t.Errorf("query unknown node: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.ChainID != "client-test" || st.Height < results[1].Height {
		t.Errorf("status %+v, %v", st, err)
	}

	// Close ends the subscriptions and watches whose contexts still run.
	live, err := c.Watch(context.Background(), contract.EventTransfer, "to", mine.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan chain.BlockEvent{"subscription": events, "watch": live} {
		timeout := time.After(10 * time.Second)
	drain:
		for {
			select {
			case _, open := <-ch:
				if !open {
					break drain
				}
			case <-timeout:
				t.Fatalf("the %s's channel stayed open after Close", name)
			}
		}
	}
	if _, err := c.Subscribe(context.Background()); err == nil {
		t.Error("Subscribe after Close succeeded")
	}
}
