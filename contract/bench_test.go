package contract

import (
	"testing"
)

// signedTxs pre-signs n txs of msg from signer with consecutive nonces.
func signedTxs(h *harness, signer string, n int, msg Msg) [][]byte {
	out := make([][]byte, n)
	key, a := testKey(signer), testAddr(signer)
	for i := range out {
		tx := NewTx(testChain, h.nonces[a]+uint64(i), 10, msg)
		tx.Sign(key)
		out[i] = EncodeTx(tx)
	}
	return out
}

// benchDeliver measures DeliverTx; with checked, every tx went through
// CheckTx first (outside the timer), as in a real node, so the signature
// cache hits.
func benchDeliver(b *testing.B, signer string, msg Msg, checked bool) {
	h := newHarness(b, testParams())
	if _, isBeat := msg.(*Heartbeat); isBeat {
		h.must(signer, &RegisterNode{VRAMBytes: GiB, Backends: []string{"cpu"}, P2PAddr: "p", Stake: 1100 * Token})
	}
	txs := signedTxs(h, signer, b.N, msg)
	b.ResetTimer()
	const chunk = 4096
	for lo := 0; lo < len(txs); lo += chunk {
		hi := min(lo+chunk, len(txs))
		if checked {
			b.StopTimer()
			for _, raw := range txs[lo:hi] {
				h.s.CheckTx(raw)
			}
			b.StartTimer()
		}
		for _, raw := range txs[lo:hi] {
			if res := h.s.DeliverTx(raw); res.Code != CodeOK {
				b.Fatalf("code %d: %s", res.Code, res.Log)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txs/s")
}

// BenchmarkDeliverTx reports DeliverTx throughput (txs/s) for signed
// Transfer and Heartbeat txs, cold and after CheckTx.
func BenchmarkDeliverTx(b *testing.B) {
	transfer := &Transfer{To: testAddr("user2"), Amount: 1}
	b.Run("Transfer", func(b *testing.B) { benchDeliver(b, "user", transfer, false) })
	b.Run("Transfer/afterCheckTx", func(b *testing.B) { benchDeliver(b, "user", transfer, true) })
	b.Run("Heartbeat", func(b *testing.B) { benchDeliver(b, "n1", &Heartbeat{}, false) })
	b.Run("Heartbeat/afterCheckTx", func(b *testing.B) { benchDeliver(b, "n1", &Heartbeat{}, true) })
}

// BenchmarkCheckTx measures the mempool check of a signed Transfer.
func BenchmarkCheckTx(b *testing.B) {
	h := newHarness(b, testParams())
	txs := make([][]byte, b.N) // distinct txs with a valid nonce: the cache never hits
	for i := range txs {
		tx := NewTx(testChain, 0, 10, &Transfer{To: testAddr("user2"), Amount: uint64(i)})
		tx.Sign(testKey("user"))
		txs[i] = EncodeTx(tx)
	}
	b.ResetTimer()
	for _, raw := range txs {
		if res := h.s.CheckTx(raw); res.Code != CodeOK {
			b.Fatalf("code %d: %s", res.Code, res.Log)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txs/s")
}

// BenchmarkAppHash measures hashing the state of the slashing scenario plus
// 10 000 accounts.
func BenchmarkAppHash(b *testing.B) {
	s := busyState(b, "testdata/slash.txt")
	for i := 0; i < 10_000; i++ {
		var a Address
		a[0], a[1], a[2] = byte(i), byte(i>>8), 0xee
		s.acct(a).Balance = 0
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.AppHash()
	}
	b.ReportMetric(float64(len(s.Snapshot())), "snapshot-bytes")
}
