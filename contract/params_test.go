package contract

import (
	"errors"
	"strings"
	"testing"
)

// TestPoSPRule checks p·(1−r)·(R+S) > C: the seed's set is refused with the
// threshold named, the default accepted, and the boundary is exact.
func TestPoSPRule(t *testing.T) {
	seed := DefaultParams()
	seed.SlashBP = 100_000 // the seed's 10×
	if err := seed.Validate(); !errors.Is(err, ErrParams) || !strings.Contains(err.Error(), "need p > 0.101010") {
		t.Fatalf("seed params: want a PoSP refusal naming p > 0.101010, got %v", err)
	}
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("default params refused: %v", err)
	}
	if got := seed.PoSPThresholdPPM(); got != 101_011 {
		t.Fatalf("threshold = %d ppm, want 101011", got)
	}
	// p·(1−r)·(1+S/C) > 1, checked exactly in integers around the threshold.
	for _, tc := range []struct {
		p, r, s uint32
		ok      bool
	}{
		{80_000, 100_000, 200_000, true},
		{80_000, 100_000, 100_000, false},
		{1_000_000, 0, 0, false},          // p = 1 with no slash and R = C: 1·1·1 = 1, not > 1
		{1_000_000, 0, 1, true},           // any slash tips it
		{500_000, 500_000, 30_000, false}, // 0.5·0.5·4 = 1
		{500_000, 500_000, 30_001, true},
	} {
		p := DefaultParams()
		p.VerifyPPM, p.CollusionPPM, p.SlashBP = tc.p, tc.r, tc.s
		if err := p.Validate(); (err == nil) != tc.ok {
			t.Errorf("p=%d r=%d S=%d: ok=%v, err=%v", tc.p, tc.r, tc.s, tc.ok, err)
		}
	}
}

// TestGenesisValidate checks that bad genesis documents are refused.
func TestGenesisValidate(t *testing.T) {
	g := testGenesis(testParams())
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := g
	bad.Accounts = append(append([]Account(nil), g.Accounts...), g.Accounts[0])
	if _, err := NewState(bad); !errors.Is(err, ErrGenesis) {
		t.Fatalf("duplicate account: %v", err)
	}
	bad = g
	bad.Accounts = []Account{{Address: testAddr("a"), Balance: ^uint64(0)}, {Address: testAddr("b"), Balance: 1}}
	if _, err := NewState(bad); !errors.Is(err, ErrGenesis) {
		t.Fatalf("supply overflow: %v", err)
	}
	bad = g
	bad.ChainID = ""
	if _, err := NewState(bad); !errors.Is(err, ErrGenesis) {
		t.Fatalf("empty chain id: %v", err)
	}
}

// TestRequiredStake checks base + perGiB × ceil(VRAM in GiB).
func TestRequiredStake(t *testing.T) {
	p := DefaultParams()
	for _, tc := range []struct{ vram, want uint64 }{
		{1, 1100 * Token}, {GiB, 1100 * Token}, {GiB + 1, 1200 * Token}, {24 * GiB, 3400 * Token},
	} {
		if got, _ := p.requiredStake(tc.vram); got != tc.want {
			t.Errorf("vram %d: stake %d, want %d", tc.vram, got, tc.want)
		}
	}
}
