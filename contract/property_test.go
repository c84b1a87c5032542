package contract

import (
	"bytes"
	"math/rand"
	"testing"
)

// randomRun applies a random but reproducible sequence of blocks and txs to
// two replicas and a third one restarted from a snapshot, and checks the
// invariants after every tx and block:
//   - the total supply never changes (so no balance wrapped below zero);
//   - a failed tx changes nothing but, when only its message failed, the
//     signer's fee and nonce;
//   - replicas applying the same blocks have the same AppHash;
//   - Snapshot/LoadState round-trips and the restored replica keeps up.
func randomRun(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	p := testParams()
	p.VerifyPPM = uint32(200_000 + rng.Intn(800_001))
	a := newHarness(t, p)
	b := newHarness(t, p)
	g := &txGen{h: a, rng: rng, codes: lastCodes}
	g.setup()
	var restored *State
	if seed%4 != 0 { // most runs start from a working network
		for _, sm := range g.warmup() {
			deliverAll(t, g.sign(sm.signer, sm.msg), g, a, b, nil)
		}
	}
	for step := 0; step < steps; step++ {
		if rng.Intn(6) == 0 {
			for _, raw := range g.heartbeats() {
				deliverAll(t, raw, g, a, b, restored)
			}
			dt := int64(1+rng.Intn(3)) * Second
			end, begin := a.next(dt)
			record(end)
			record(begin)
			b.next(dt)
			if restored != nil {
				restored.EndBlock()
				restored.BeginBlock(a.s.header)
				if restored.AppHash() != a.s.AppHash() {
					t.Fatalf("seed %d step %d: restored replica diverged", seed, step)
				}
			}
			if a.s.AppHash() != b.s.AppHash() {
				t.Fatalf("seed %d step %d: replicas diverged at height %d", seed, step, a.s.Height())
			}
			if restored == nil && rng.Intn(4) == 0 {
				restored = roundTrip(t, a.s)
			}
			continue
		}
		deliverAll(t, g.next(), g, a, b, restored)
	}
}

// deliverAll delivers raw to every replica and checks the per-tx invariants.
func deliverAll(t *testing.T, raw []byte, g *txGen, a, b *harness, restored *State) {
	t.Helper()
	before := a.s.Snapshot()
	tx, _ := DecodeTx(raw)
	var nonce0 uint64
	if tx != nil && a.s.accounts[tx.Signer] != nil {
		nonce0 = a.s.accounts[tx.Signer].Nonce
	}
	_, poolBefore := a.s.accounts[PoolAddress]
	ra := a.s.DeliverTx(raw)
	rb := b.s.DeliverTx(raw)
	if restored != nil {
		restored.DeliverTx(raw)
	}
	if ra.Code != rb.Code || ra.Log != rb.Log {
		t.Fatalf("replicas disagree on tx result: %d %q vs %d %q", ra.Code, ra.Log, rb.Code, rb.Log)
	}
	charged := tx != nil && a.s.accounts[tx.Signer] != nil && a.s.accounts[tx.Signer].Nonce != nonce0
	if ra.Code != CodeOK {
		undo := func(back bool) { // take back (or give again) the fee and the nonce
			if back {
				a.s.debit(PoolAddress, tx.Fee)
				a.s.credit(tx.Signer, tx.Fee)
				a.s.acct(tx.Signer).Nonce--
				if !poolBefore { // the fee opened the pool's account
					delete(a.s.accounts, PoolAddress)
					a.s.acctKeys = nil
				}
			} else {
				a.s.debit(tx.Signer, tx.Fee)
				a.s.credit(PoolAddress, tx.Fee)
				a.s.acct(tx.Signer).Nonce++
			}
		}
		if charged { // the message failed: the fee and the nonce only
			undo(true)
		}
		same := bytes.Equal(before, a.s.Snapshot())
		if charged {
			undo(false)
		}
		if !same {
			t.Fatalf("failed tx (code %d: %s, charged %v) changed more than its fee and nonce", ra.Code, ra.Log, charged)
		}
	}
	if ra.Code == CodeOK || charged {
		g.delivered(raw)
	}
	if ra.Code == CodeOK {
		record(ra.Events)
		g.codes[0]++
	} else {
		g.codes[ra.Code]++
	}
	if got := a.s.Supply(); got != a.supply {
		t.Fatalf("supply %d != %d after tx with code %d", got, a.supply, ra.Code)
	}
}

func roundTrip(t *testing.T, s *State) *State {
	snap := s.Snapshot()
	r, err := LoadState(snap)
	if err != nil {
		t.Fatalf("LoadState(Snapshot()): %v", err)
	}
	if !bytes.Equal(r.Snapshot(), snap) {
		t.Fatal("snapshot does not round-trip")
	}
	return r
}

// reached counts the event types the random runs produced.
var reached = map[string]int{}

// lastCodes counts the tx result codes of the random runs.
var lastCodes = map[uint32]int{}

func record(evs []Event) {
	for _, e := range evs {
		reached[e.Type]++
	}
}

// TestRandomTxSequences runs randomRun over many seeds.
func TestRandomTxSequences(t *testing.T) {
	seeds, steps := 12, 500
	if testing.Short() {
		seeds, steps = 6, 300
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		randomRun(t, seed, steps)
	}
	t.Logf("events reached: %v", reached)
	t.Logf("codes: %v", lastCodes)
	if len(reached) < 12 {
		t.Errorf("random runs reached only %d event types: %v", len(reached), reached)
	}
}
