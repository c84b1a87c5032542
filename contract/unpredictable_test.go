package contract

import (
	"crypto/sha256"
	"fmt"
	"math"
	"testing"
)

// TestDrawUnknownAtCommit shows that no asserter can know, when it commits,
// whether its task will be verified: the draw is made in a later block from
// that block's beacon. From the very state in which the commitment was
// applied, different beacons for the next block give different outcomes, in
// the proportion p, while one beacon always gives the same outcome.
func TestDrawUnknownAtCommit(t *testing.T) {
	h := newHarness(t, testParams())
	m := chainModel("m", 1, 10, 1*GiB)
	h.must("dev", m)
	nodes := []string{"n1", "n2", "n3", "n4"}
	sp := &Specialize{Tasks: []TaskRef{{Model: m.ModelID(), Task: 0}}}
	for _, n := range nodes {
		h.must(n, &RegisterNode{VRAMBytes: 4 * GiB, Backends: []string{"cpu"}, P2PAddr: "/p2p/" + n, Stake: 1500 * Token})
		h.must(n, sp)
		h.must(n, &Heartbeat{})
	}
	h.must("user", &RequestExecution{Model: m.ModelID(), MaxFee: 1 * Token, MaxTokens: 16})
	h.next(Second)
	for _, n := range nodes {
		h.must(n, &Heartbeat{})
	}
	h.next(Second) // the task is assigned in this block's EndBlock
	e := h.s.execs[1]
	if e == nil || e.Tasks[0].State != taskRunning {
		t.Fatalf("execution not running: %+v", e)
	}
	asserter := h.names[e.Tasks[0].Node]
	h.must(asserter, &CommitResult{Exec: 1, Task: 0, Steps: 16,
		Inputs: roots(m.Tasks[0].Inputs, 1, "honest"), Outputs: roots(m.Tasks[0].Outputs, 1, "honest")})
	h.s.EndBlock()
	if v := e.Tasks[0].Verify.State; v != vUndrawn {
		t.Fatalf("verification decided in the commitment's own block (state %d)", v)
	}
	atCommit := h.s.Snapshot() // everything the asserter can know

	const trials = 2000
	drawn := 0
	for i := 0; i < trials; i++ {
		s, err := LoadState(atCommit)
		if err != nil {
			t.Fatal(err)
		}
		beacon := sha256.Sum256([]byte(fmt.Sprintf("next beacon %d", i)))
		outcome := func(s *State) bool {
			s.BeginBlock(Header{ChainID: testChain, Height: s.Height() + 1, TimeUnixNano: s.header.TimeUnixNano + Second, Beacon: beacon})
			s.EndBlock()
			return s.execs[1].Tasks[0].Verify.State != vSkipped
		}
		got := outcome(s)
		again, _ := LoadState(atCommit)
		if outcome(again) != got {
			t.Fatal("the same beacon gave two outcomes")
		}
		if got {
			drawn++
		}
	}
	p := float64(h.s.params.VerifyPPM) / PPM
	sd := math.Sqrt(p * (1 - p) / trials)
	frac := float64(drawn) / trials
	t.Logf("drawn in %d of %d next-block beacons: %.4f (p = %.2f ± %.4f)", drawn, trials, frac, p, 4*sd)
	if drawn == 0 || drawn == trials || math.Abs(frac-p) > 4*sd {
		t.Fatalf("draw fraction %.4f is not p = %.2f within 4σ = %.4f", frac, p, 4*sd)
	}
}
