// Package sample picks the next token from a vector of logits exactly as
// llama2.c's run.c does: greedy argmax at temperature 0, otherwise softmax of
// logits/temperature followed by nucleus (top-p) sampling when 0 < TopP < 1,
// or plain multinomial sampling. The random numbers come from run.c's
// xorshift64* generator, so for the same seed and logits a Sampler chooses
// the same token as run.c.
//
// The package is pure: no clock, no global state, no map iteration. A
// Sampler is not safe for concurrent use; give each session its own.
package sample

import (
	"errors"
	"fmt"
	"math"
)

// Config selects the sampling strategy.
type Config struct {
	// Temperature divides the logits before the softmax. 0 selects greedy
	// decoding (argmax). Must be finite and >= 0.
	Temperature float32
	// TopP is the nucleus-sampling probability mass. Values in (0, 1) enable
	// nucleus sampling; 0 or >= 1 sample from the full distribution (as run.c).
	// Must be finite and >= 0.
	TopP float32
	// Seed initialises the xorshift64* state. A zero seed would make the
	// generator emit only zeros, so New replaces 0 with DefaultSeed.
	Seed uint64
}

// DefaultSeed replaces a zero Config.Seed (xorshift64* never leaves state 0).
const DefaultSeed uint64 = 0x5EED5EED5EED5EED

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("invalid sampler config")

// Validate reports whether c is usable.
func (c Config) Validate() error {
	if isBad(c.Temperature) || c.Temperature < 0 {
		return fmt.Errorf("%w: temperature %v must be a finite number >= 0", ErrConfig, c.Temperature)
	}
	if isBad(c.TopP) || c.TopP < 0 {
		return fmt.Errorf("%w: top_p %v must be a finite number >= 0", ErrConfig, c.TopP)
	}
	return nil
}

func isBad(x float32) bool {
	f := float64(x)
	return math.IsNaN(f) || math.IsInf(f, 0)
}

// Sampler draws tokens. It holds the RNG state and scratch buffers.
type Sampler struct {
	cfg   Config
	rng   RNG
	probs []float32
	cands []candidate
}

// candidate is run.c's ProbIndex.
type candidate struct {
	prob  float32
	index int
}

// New returns a Sampler for cfg. It panics if cfg is invalid; call
// cfg.Validate first when cfg comes from outside the program.
func New(cfg Config) *Sampler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	return &Sampler{cfg: cfg, rng: RNG{State: seed}}
}

// Next returns the index of the chosen token. logits is not modified.
// It panics if logits is empty.
func (s *Sampler) Next(logits []float32) int {
	if len(logits) == 0 {
		panic("sample: Next called with no logits")
	}
	if s.cfg.Temperature == 0 {
		return Argmax(logits)
	}
	s.probs = append(s.probs[:0], logits...)
	for i := range s.probs {
		s.probs[i] /= s.cfg.Temperature
		if math.IsInf(float64(s.probs[i]), 0) && !math.IsInf(float64(logits[i]), 0) {
			// A temperature so small that a logit overflows: the limit of
			// sampling as the temperature falls to 0 is the argmax.
			return Argmax(logits)
		}
	}
	Softmax(s.probs)
	coin := s.rng.Float32()
	if s.cfg.TopP > 0 && s.cfg.TopP < 1 {
		return s.topp(s.probs, s.cfg.TopP, coin)
	}
	return Multinomial(s.probs, coin)
}

// Argmax returns the index of the largest value, the first one on ties.
func Argmax(x []float32) int {
	best := 0
	for i := 1; i < len(x); i++ {
		if x[i] > x[best] {
			best = i
		}
	}
	return best
}

// Softmax replaces x by softmax(x) in place, in float32 arithmetic with
// run.c's order of operations (subtract the max, exponentiate and sum left
// to right, divide).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	maxVal := x[0]
	for _, v := range x[1:] {
		if v > maxVal {
			maxVal = v
		}
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - maxVal)))
		x[i] = e
		sum += e
	}
	for i := range x {
		x[i] /= sum
	}
}

// Multinomial returns the first index whose cumulative probability exceeds
// coin (in [0, 1)), or the last index if rounding leaves coin above the total.
func Multinomial(probs []float32, coin float32) int {
	var cdf float32
	for i, p := range probs {
		cdf += p
		if coin < cdf {
			return i
		}
	}
	return len(probs) - 1
}

// TopP performs run.c's nucleus sampling over probs with threshold topp and
// coin in [0, 1). It allocates; Sampler.Next reuses its buffers instead.
func TopP(probs []float32, topp, coin float32) int {
	var s Sampler
	return s.topp(probs, topp, coin)
}
