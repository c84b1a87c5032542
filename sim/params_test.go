package sim

import (
	"fmt"
	"math"
	"testing"
	"testing/quick"
)

// TestCriticalZeroesE checks, for random valid parameters, that E vanishes
// at each parameter's critical value and has the documented sign around it.
func TestCriticalZeroesE(t *testing.T) {
	f := func(a, b, c, d uint16) bool {
		p := Params{
			P:         0.01 + 0.99*float64(a)/math.MaxUint16,
			Slash:     50 * float64(b) / math.MaxUint16,
			Reward:    0.1 + 5*float64(c)/math.MaxUint16,
			Collusion: 0.95 * float64(d) / math.MaxUint16,
		}
		if p.Validate() != nil {
			return false
		}
		for _, q := range allParams {
			crit := p.Critical(q)
			if e := p.With(q, crit).Expected(); math.Abs(e) > 1e-9*(1+math.Abs(crit)) {
				t.Logf("%+v: E at %s = %g is %g", p, q, crit, e)
				return false
			}
			// Cheating pays below the critical value except for collusion.
			below := p.With(q, crit-1e-3).Expected()
			if (q == ParamCollusion) != (below < 0) {
				t.Logf("%+v: E just below %s* = %g is %g", p, q, crit, below)
				return false
			}
		}
		return (p.Expected() > 0) == (p.P < p.Threshold())
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

func TestThresholds(t *testing.T) {
	for _, tc := range []struct {
		p         Params
		threshold float64
		expected  float64
	}{
		{seedParams, 1 / (0.9 * 11), 1 - 0.08*0.9*11},
		{defaultParams, 1 / (0.9 * 21), 1 - 0.08*0.9*21},
		{Params{P: 0.5, Slash: 1, Reward: 1}, 0.5, 0},
	} {
		if got := tc.p.Threshold(); math.Abs(got-tc.threshold) > 1e-12 {
			t.Errorf("%+v: threshold %g, want %g", tc.p, got, tc.threshold)
		}
		if got := tc.p.Expected(); math.Abs(got-tc.expected) > 1e-12 {
			t.Errorf("%+v: E %g, want %g", tc.p, got, tc.expected)
		}
	}
}

func TestParseParam(t *testing.T) {
	for _, q := range allParams {
		if got, err := ParseParam(string(q)); err != nil || got != q {
			t.Errorf("ParseParam(%q) = %q, %v", q, got, err)
		}
	}
	if _, err := ParseParam("stake"); err == nil {
		t.Error("ParseParam(stake) succeeded")
	}
}

func TestDefaultRangeHoldsCriticalAndBase(t *testing.T) {
	for _, p := range []Params{seedParams, defaultParams, {P: 0.5, Slash: 0.5, Reward: 0.5, Collusion: 0.5}} {
		for _, q := range allParams {
			lo, hi := DefaultRange(p, q)
			c := DefaultConfig()
			c.Params = p.With(q, hi)
			if err := c.Validate(); err != nil || lo != 0 || !(hi > lo) {
				t.Errorf("%+v %s: range [%g, %g]: %v", p, q, lo, hi, err)
			}
			if b := p.Get(q); b > hi {
				t.Errorf("%+v %s: range [%g, %g] misses the base value %g", p, q, lo, hi, b)
			}
			if crit := p.Critical(q); q != ParamCollusion && crit > 0 && crit <= 1 && crit > hi {
				t.Errorf("%+v %s: range [%g, %g] misses the critical value %g", p, q, lo, hi, crit)
			}
		}
	}
}

func TestGrid(t *testing.T) {
	g := Grid(0, 0.2, 5)
	want := []float64{0, 0.05, 0.1, 0.15, 0.2}
	for i := range want {
		if len(g) != len(want) || math.Abs(g[i]-want[i]) > 1e-15 {
			t.Fatalf("Grid(0, 0.2, 5) = %v, want %v", g, want)
		}
	}
	if g[4] != 0.2 {
		t.Errorf("Grid(0, 0.2, 5) ends at %v, want exactly 0.2", g[4])
	}
	if g := Grid(3, 4, 1); len(g) != 1 || g[0] != 3 {
		t.Errorf("Grid(3, 4, 1) = %v", g)
	}
}

func ExampleParams_Threshold() {
	for _, p := range []Params{
		{P: 0.08, Slash: 10, Reward: 1, Collusion: 0.1}, // the seed's set
		{P: 0.08, Slash: 20, Reward: 1, Collusion: 0.1}, // DESIGN.md defaults
	} {
		fmt.Printf("S = %2g: p* = %.4f, E = %+.3f C per cheated task\n", p.Slash, p.Threshold(), p.Expected())
	}
	// Output:
	// S = 10: p* = 0.1010, E = +0.208 C per cheated task
	// S = 20: p* = 0.0529, E = -0.512 C per cheated task
}
