package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// TestCheckTxDoesNotMutate checks that CheckTx leaves the snapshot unchanged.
func TestCheckTxDoesNotMutate(t *testing.T) {
	h := newHarness(t, testParams())
	before := h.s.Snapshot()
	for _, msg := range sampleMsgs() {
		raw := h.signed("user", msg)
		h.s.CheckTx(raw)
	}
	if !bytes.Equal(before, h.s.Snapshot()) {
		t.Fatal("CheckTx changed the state")
	}
}

// TestRejectionCodesDistinct checks that forged signatures, wrong chain ids
// and replayed or future nonces get distinct codes.
func TestRejectionCodesDistinct(t *testing.T) {
	h := newHarness(t, testParams())
	h.must("user", &Transfer{To: testAddr("user2"), Amount: 1})
	mk := func(chain string, nonce uint64) *Tx {
		tx := NewTx(chain, nonce, 10, &Transfer{To: testAddr("user2"), Amount: 1})
		tx.Sign(testKey("user"))
		return tx
	}
	forged := mk(testChain, 1)
	forged.Signature[0] ^= 1
	other := mk(testChain, 1)
	other.Signer = testAddr("user2") // signed by user, claims user2
	cases := map[string]struct {
		tx   *Tx
		code uint32
	}{
		"forged":      {forged, CodeBadSignature},
		"wrong key":   {other, CodeBadSignature},
		"wrong chain": {mk("elsewhere", 1), CodeWrongChainID},
		"replay":      {mk(testChain, 0), CodeReplayedNonce},
		"future":      {mk(testChain, 2), CodeFutureNonce},
	}
	for name, c := range cases {
		if res := h.s.DeliverTx(EncodeTx(c.tx)); res.Code != c.code || res.Log == "" {
			t.Errorf("%s: code %d (%s), want %d", name, res.Code, res.Log, c.code)
		}
	}
}

// TestAssignmentWeightedByStake checks that single-task executions land on
// nodes roughly in proportion to stake, using many beacons.
func TestAssignmentWeightedByStake(t *testing.T) {
	h := newHarness(t, testParams())
	m := chainModel("one", 1, 1, GiB)
	h.must("dev", m)
	ref := TaskRef{Model: m.ModelID()}
	stakes := map[string]uint64{"n1": 1100 * Token, "n2": 3300 * Token}
	for _, n := range []string{"n1", "n2"} {
		h.must(n, &RegisterNode{VRAMBytes: GiB, Backends: []string{"cpu"}, P2PAddr: "p", Stake: stakes[n]})
		h.must(n, &Specialize{Tasks: []TaskRef{ref}})
	}
	counts := map[Address]int{}
	const runs = 2000
	e := &execution{ID: 1, Model: ref.Model, MaxTokens: 1, Tasks: make([]taskRun, 1)}
	mo := h.s.models[ref.Model]
	for i := 0; i < runs; i++ {
		h.s.header.Beacon = beaconAt(int64(i))
		e.Tasks[0] = taskRun{State: taskPending}
		h.s.assignTask(e, mo, 0)
		counts[e.Tasks[0].Node]++
	}
	share := counts[testAddr("n2")] * 100 / runs // expect 75%
	if share < 70 || share > 80 {
		t.Fatalf("n2 got %d%% of assignments, want about 75%%", share)
	}
}

// TestQuery reads every query path after the happy-path scenario.
func TestQuery(t *testing.T) {
	s := busyState(t, "testdata/happy.txt")
	var nodes []NodeInfo
	mustJSON(t, s, "nodes", &nodes)
	if len(nodes) != 3 || !nodes[0].Online {
		t.Fatalf("nodes: %+v", nodes)
	}
	var ex ExecutionInfo
	mustJSON(t, s, "execution/1", &ex)
	if ex.State != "settled" || len(ex.Tasks) != 2 || ex.Tasks[0].Verification != "done" {
		t.Fatalf("execution: %+v", ex)
	}
	var models []ModelInfo
	mustJSON(t, s, "models", &models)
	var model ModelInfo
	mustJSON(t, s, "model/"+models[0].ID.String(), &model)
	if model.NumTasks != 2 || len(model.Tasks) != 2 {
		t.Fatalf("model: %+v", model)
	}
	var acct AccountInfo
	mustJSON(t, s, "account/"+testAddr("user").String(), &acct)
	if acct.Nonce != 2 { // one request succeeded, one failed (and paid its fee)
		t.Fatalf("account: %+v", acct)
	}
	var sup SupplyInfo
	mustJSON(t, s, "supply", &sup)
	if sup.Total != s.Supply() {
		t.Fatalf("supply: %+v", sup)
	}
	for path, want := range map[string]error{"execution/99": ErrNotFound, "node/" + testAddr("user").String(): ErrNotFound,
		"execution/x": ErrBadQuery, "nope": ErrBadQuery, "account/12": ErrBadQuery, "verifications/12": ErrBadQuery} {
		if _, err := s.Query(path, nil); !errors.Is(err, want) {
			t.Errorf("%s: err %v, want %v", path, err, want)
		}
	}
}

func mustJSON(t *testing.T, s *State, path string, v any) {
	t.Helper()
	b, err := s.Query(path, nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestGenesisJSON checks that a genesis document survives JSON.
func TestGenesisJSON(t *testing.T) {
	g := testGenesis(DefaultParams())
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var g2 Genesis
	if err := json.Unmarshal(b, &g2); err != nil {
		t.Fatal(err)
	}
	s1, _ := NewState(g)
	s2, err := NewState(g2)
	if err != nil || s1.AppHash() != s2.AppHash() {
		t.Fatalf("genesis JSON round trip changes the state: %v", err)
	}
}

// TestSlashReachesUnbondingStake checks that unstaking does not escape a
// slash: the slash takes the bonded stake first, then unbonding entries.
func TestSlashReachesUnbondingStake(t *testing.T) {
	h := newHarness(t, testParams())
	h.must("n1", &RegisterNode{VRAMBytes: GiB, Backends: []string{"cpu"}, P2PAddr: "p", Stake: 1100 * Token})
	h.must("n1", &Unstake{Amount: 1000 * Token})
	h.must("n1", &Unstake{Amount: 50 * Token})
	taken := h.s.slash(testAddr("n1"), 1075*Token)
	n := h.s.nodes[testAddr("n1")]
	if taken != 1075*Token || n.Stake != 0 || len(n.Unbonding) != 1 || n.Unbonding[0].Amount != 25*Token {
		t.Fatalf("taken %d, stake %d, unbonding %+v", taken, n.Stake, n.Unbonding)
	}
	if got := h.s.slash(testAddr("n1"), 1000*Token); got != 25*Token {
		t.Fatalf("second slash took %d, want what was left", got)
	}
}
