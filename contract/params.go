package contract

import (
	"errors"
	"fmt"
)

// Fixed-point scales. Probabilities are in parts per million (ppm) and
// multiples of a task payment in basis points (bp); the contract has no floats.
const (
	PPM = 1_000_000 // 100% in ppm
	BP  = 10_000    // 1× in basis points
	// Token is one whole settlement token in base units.
	Token = 1_000_000
	// GiB is the unit of declared VRAM in the stake rule.
	GiB = 1 << 30
	// Second is one second of block time in nanoseconds.
	Second int64 = 1_000_000_000
)

// Params are the governed parameters. Amounts are base units, durations are
// nanoseconds of block time.
type Params struct {
	MinTxFee       uint64 `json:"min_tx_fee"`        // base units per tx
	StakeBase      uint64 `json:"stake_base"`        // base units (default 1000 tokens)
	StakePerGiB    uint64 `json:"stake_per_gib"`     // base units per GiB of declared VRAM (default 100 tokens)
	UnbondingNanos int64  `json:"unbonding_nanos"`   // unstake → balance delay
	HeartbeatNanos int64  `json:"heartbeat_nanos"`   // expected heartbeat interval
	MissedBeats    uint32 `json:"missed_beats"`      // missed intervals before offline (3)
	PricePerCU     uint64 `json:"price_per_cu"`      // task payment per compute unit per step
	DeadlineBase   int64  `json:"deadline_base"`     // task deadline base (ns)
	DeadlinePerCU  int64  `json:"deadline_per_cu"`   // plus this per compute unit × max tokens (ns)
	MaxAttempts    uint32 `json:"max_attempts"`      // assignments per task before the execution fails
	ChallengeNanos int64  `json:"challenge_nanos"`   // challenge window after a commitment
	VerifyPPM      uint32 `json:"verify_ppm"`        // p: verification probability
	RewardBP       uint32 `json:"reward_bp"`         // Rv: validator reward as a multiple of the task payment
	SlashBP        uint32 `json:"slash_bp"`          // S: slash as a multiple of the task payment
	CollusionPPM   uint32 `json:"collusion_ppm"`     // r: bound on the colluding fraction
	MaxExecsPerBlk uint32 `json:"max_execs_per_blk"` // cap on new assignments per EndBlock
	RetainNanos    int64  `json:"retain_nanos"`      // a settled execution stays in the state this long, then is dropped
}

// DefaultParams returns the default parameters: stake 1000 + 100/GiB tokens,
// heartbeat 30 s with 3 missed = offline, p = 0.08, Rv = 1.2×, S = 20×, r = 0.1.
func DefaultParams() Params {
	return Params{
		MinTxFee:       10,
		StakeBase:      1000 * Token,
		StakePerGiB:    100 * Token,
		UnbondingNanos: 7 * 24 * 3600 * Second,
		HeartbeatNanos: 30 * Second,
		MissedBeats:    3,
		PricePerCU:     1,
		DeadlineBase:   60 * Second,
		DeadlinePerCU:  1000,
		MaxAttempts:    4,
		ChallengeNanos: 600 * Second,
		VerifyPPM:      80_000,
		RewardBP:       12_000,
		SlashBP:        200_000,
		CollusionPPM:   100_000,
		MaxExecsPerBlk: 256,
		RetainNanos:    3600 * Second,
	}
}

// ErrParams is wrapped by every parameter validation failure.
var ErrParams = errors.New("invalid params")

// Parameter caps that keep every product inside uint64.
const (
	maxSlashBP    = 1_000_000 // 100×
	maxRewardBP   = 1_000_000 // 100×
	maxNanos      = 1 << 50   // ~13 days… ×1000; bounds deadline arithmetic
	maxAttemptCap = 16
)

// Validate checks ranges and the PoSP rule p·(1−r)·(R+S) > C with R = C.
func (p Params) Validate() error {
	switch {
	case p.StakeBase == 0:
		return fmt.Errorf("%w: stake_base must be > 0", ErrParams)
	case p.HeartbeatNanos <= 0 || p.HeartbeatNanos > maxNanos:
		return fmt.Errorf("%w: heartbeat_nanos out of range", ErrParams)
	case p.MissedBeats == 0 || p.MissedBeats > 1000:
		return fmt.Errorf("%w: missed_beats must be 1..1000", ErrParams)
	case p.UnbondingNanos < 0 || p.UnbondingNanos > maxNanos:
		return fmt.Errorf("%w: unbonding_nanos out of range", ErrParams)
	case p.DeadlineBase <= 0 || p.DeadlineBase > maxNanos || p.DeadlinePerCU < 0 || p.DeadlinePerCU > maxNanos:
		return fmt.Errorf("%w: deadline_base/deadline_per_cu out of range", ErrParams)
	case p.MaxAttempts == 0 || p.MaxAttempts > maxAttemptCap:
		return fmt.Errorf("%w: max_attempts must be 1..%d", ErrParams, maxAttemptCap)
	case p.ChallengeNanos < 0 || p.ChallengeNanos > maxNanos:
		return fmt.Errorf("%w: challenge_nanos out of range", ErrParams)
	case p.UnbondingNanos < p.ChallengeNanos:
		// Unbonding stake can be slashed; stake released sooner than a
		// commitment can be disputed would let a cheater unstake first.
		return fmt.Errorf("%w: unbonding_nanos (%d) must be at least challenge_nanos (%d): stake must stay slashable while a commitment can be disputed", ErrParams, p.UnbondingNanos, p.ChallengeNanos)
	case p.VerifyPPM > PPM || p.CollusionPPM >= PPM:
		return fmt.Errorf("%w: verify_ppm must be ≤ %d and collusion_ppm < %d", ErrParams, PPM, PPM)
	case p.SlashBP > maxSlashBP || p.RewardBP > maxRewardBP:
		return fmt.Errorf("%w: slash_bp and reward_bp must be ≤ %d", ErrParams, maxSlashBP)
	case p.MaxExecsPerBlk == 0:
		return fmt.Errorf("%w: max_execs_per_blk must be > 0", ErrParams)
	case p.RetainNanos < 0 || p.RetainNanos > maxNanos:
		return fmt.Errorf("%w: retain_nanos out of range", ErrParams)
	}
	return p.checkPoSP()
}

// PoSPThresholdPPM is the smallest verification probability (ppm) that
// satisfies p·(1−r)·(R+S) > C for the params' r and S, with R = C.
func (p Params) PoSPThresholdPPM() uint64 {
	den := uint64(PPM-p.CollusionPPM) * uint64(BP+p.SlashBP) // ≤ 1e6 · 1.01e6
	return posPScale/den + 1
}

// posPScale is C expressed in ppm × ppm × bp: the right side of the rule.
const posPScale = uint64(PPM) * PPM * BP

func (p Params) checkPoSP() error {
	lhs := uint64(p.VerifyPPM) * uint64(PPM-p.CollusionPPM) * uint64(BP+p.SlashBP)
	if lhs > posPScale {
		return nil
	}
	return fmt.Errorf("%w: PoSP rule p·(1−r)·(R+S) > C fails: need p > %s (have p %s, r %s, S %s×C, R = C)",
		ErrParams, ppmText(p.PoSPThresholdPPM()-1), ppmText(uint64(p.VerifyPPM)),
		ppmText(uint64(p.CollusionPPM)), bpText(uint64(p.SlashBP)))
}

// ppmText formats a ppm integer as a decimal fraction ("0.080000").
func ppmText(v uint64) string { return fmt.Sprintf("%d.%06d", v/PPM, v%PPM) }

// bpText formats a basis-point multiple as a decimal ("20.0000").
func bpText(v uint64) string { return fmt.Sprintf("%d.%04d", v/BP, v%BP) }

// requiredStake is base + perGiB × ceil(vram / GiB).
func (p Params) requiredStake(vram uint64) (uint64, bool) {
	gib := vram / GiB
	if vram%GiB != 0 {
		gib++
	}
	per, ok := mul(p.StakePerGiB, gib)
	if !ok {
		return 0, false
	}
	return add(p.StakeBase, per)
}
