package chain_test

import (
	"context"
	"crypto/ed25519"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/mempool"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

var (
	benchTxs      = flag.Int("bench.txs", 30000, "signed transfers committed by BenchmarkCommit4Validators")
	benchLogLevel = flag.String("bench.loglevel", "*:error", "CometBFT log level of the validators")
	benchRate     = flag.Int("bench.rate", 8000, "offered load in txs/s (spread over the validators' mempools)")
	benchMempool  = flag.Int("bench.mempool", 0, "mempool size per validator (0: DefaultNodeConfig's)")
)

// BenchmarkCommit4Validators measures signed transfers per second committed
// by 4 validators running in this process on loopback (real CometBFT p2p
// over TCP, real ed25519 signatures and VRF beacons), and the block time
// idle and under load. Txs enter each validator's mempool directly (no RPC);
// every sender's txs go to one validator, in nonce order.
func BenchmarkCommit4Validators(b *testing.B) {
	for range b.N {
		benchCommit(b, 4, *benchTxs, *benchRate)
	}
}

// BenchmarkCommit1Validator is the devnet shape: one validator.
func BenchmarkCommit1Validator(b *testing.B) {
	for range b.N {
		benchCommit(b, 1, *benchTxs, *benchRate)
	}
}

func benchCommit(b *testing.B, nvals, ntx, rate int) {
	const senders = 2000
	perSender := (ntx + senders - 1) / senders
	keys := make([]ed25519.PrivateKey, senders)
	accounts := make([]contract.Account, senders)
	for i := range keys {
		_, keys[i], _ = ed25519.GenerateKey(nil)
		accounts[i] = contract.Account{Address: chain.AddressOf(keys[i]), Balance: 1_000 * contract.Token}
	}
	dir := filepath.Join(benchDir(b), "net")
	nc := chain.DefaultNodeConfig()
	nc.LogLevel = *benchLogLevel
	if *benchMempool > 0 {
		nc.MempoolSize = *benchMempool
	}
	nw, err := chain.InitNetwork(chain.NetworkOptions{
		Dir: dir, Validators: nvals, ChainID: "bench", FaucetBalance: contract.Token, Accounts: accounts, Node: nc,
	})
	if err != nil {
		b.Fatal(err)
	}
	var nodes []*chain.Node
	for _, v := range nw.Validators {
		n, err := chain.StartNode(filepath.Join(dir, v.Home), benchLog(filepath.Join(dir, v.Home)))
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	// The nodes are left running: stopping one CometBFT node while others
	// in the same process still talk to it can panic (a consensus reactor
	// goroutine reads the closed block store). The process exits soon after.

	// Sign everything up front: sender i's txs go to validator i % nvals.
	fee := contract.DefaultParams().MinTxFee
	batches := make([][][]byte, nvals)
	for r := range perSender {
		for i, k := range keys {
			tx := contract.NewTx("bench", uint64(r), fee, &contract.Transfer{To: contract.Address{byte(i), 1}, Amount: 1})
			tx.Sign(k)
			batches[i%nvals] = append(batches[i%nvals], contract.EncodeTx(tx))
		}
	}
	total := perSender * senders
	// Each tx's intended send time, as an offset from the start: latency is
	// measured from it (open loop), so a lagging injector cannot hide delay.
	sendAt := make(map[string]time.Duration, total)
	perNode := float64(rate) / float64(nvals)
	for _, batch := range batches {
		for i, tx := range batch {
			sendAt[string(cmttypes.Tx(tx).Hash())] = time.Duration(float64(i) / perNode * float64(time.Second))
		}
	}
	var start time.Time
	var latencies []time.Duration

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := nodes[0].Comet().EventBus().Subscribe(ctx, "bench", cmttypes.EventQueryNewBlock, 10000)
	if err != nil {
		b.Fatal(err)
	}
	type blk struct {
		at      time.Time
		ok, bad int
	}
	next := func() blk {
		select {
		case <-ctx.Done():
			return blk{}
		case m := <-sub.Out():
			nb := m.Data().(cmttypes.EventDataNewBlock)
			x := blk{at: time.Now()}
			for _, tx := range nb.Block.Txs {
				if off, ok := sendAt[string(tx.Hash())]; ok {
					latencies = append(latencies, x.at.Sub(start.Add(off)))
				}
			}
			for _, r := range nb.ResultFinalizeBlock.TxResults[1:] {
				if r.Code == 0 {
					x.ok++
				} else {
					x.bad++
				}
			}
			return x
		case <-time.After(60 * time.Second):
			for i, n := range nodes {
				b.Logf("node%d: height %d, mempool %d", i, n.Comet().BlockStore().Height(), n.Comet().Mempool().Size())
			}
			b.Fatal("no block for 60s")
			return blk{}
		}
	}
	// Idle block time over 10 blocks.
	for range 3 {
		next()
	}
	idle := []time.Duration{}
	last := next().at
	for range 10 {
		x := next()
		idle = append(idle, x.at.Sub(last))
		last = x.at
	}

	b.ResetTimer()
	start = time.Now()
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inject(n, batches[i], float64(rate)/float64(nvals), start)
		}()
	}
	var loaded []time.Duration
	committed, failed := 0, 0
	last = start
	// Give up 20 s after the last tx entered a mempool if some never commit.
	injected := make(chan struct{})
	go func() { wg.Wait(); close(injected); time.Sleep(20 * time.Second); cancel() }()
	for committed+failed < total && ctx.Err() == nil {
		x := next()
		committed += x.ok
		failed += x.bad
		if x.ok+x.bad > 0 {
			loaded = append(loaded, x.at.Sub(last))
		}
		last = x.at
	}
	elapsed := time.Since(start)
	b.StopTimer()
	<-injected
	if lost := total - committed - failed; lost > 0 {
		b.Logf("%d txs never committed", lost)
	}
	b.ReportMetric(float64(committed)/elapsed.Seconds(), "txs/s")
	b.ReportMetric(ms(median(idle)), "idle-block-ms")
	b.ReportMetric(ms(median(loaded)), "loaded-block-ms")
	b.ReportMetric(float64(committed)/float64(len(loaded)), "txs/block")
	b.ReportMetric(ms(median(latencies)), "tx-latency-p50-ms")
	b.ReportMetric(ms(percentile(latencies, 99)), "tx-latency-p99-ms")
	b.Logf("%d validators: %d txs committed (%d failed) in %v = %.0f txs/s; median block time idle %.0f ms, under load %.0f ms over %d blocks; tx latency p50 %.0f ms, p99 %.0f ms",
		nvals, committed, failed, elapsed.Round(time.Millisecond), float64(committed)/elapsed.Seconds(),
		ms(median(idle)), ms(median(loaded)), len(loaded), ms(median(latencies)), ms(percentile(latencies, 99)))
}

// inject feeds txs to n's mempool at about rate txs/s.
func inject(n *chain.Node, txs [][]byte, rate float64, start time.Time) {
	mp := n.Comet().Mempool()
	for i, tx := range txs {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		for mp.CheckTx(tx, nil, mempool.TxInfo{}) != nil {
			time.Sleep(5 * time.Millisecond) // mempool full: back off
		}
	}
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

var benchLogDir = flag.String("bench.logdir", "", "write each validator's CometBFT log under this directory")

func benchLog(home string) io.Writer {
	if *benchLogDir == "" {
		return io.Discard
	}
	f, err := os.Create(filepath.Join(*benchLogDir, filepath.Base(home)+".log"))
	if err != nil {
		return io.Discard
	}
	return f
}

// benchDir returns a directory that outlives the benchmark's nodes (they are
// not stopped); TestMain removes it at exit.
func benchDir(b *testing.B) string {
	d, err := os.MkdirTemp(testTmp, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return d
}
