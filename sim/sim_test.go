package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// testConfig is a small marketplace that keeps tests fast: 20 trials of
// 1000 executions of 8 tasks, half of the 101 nodes cheaters so that most
// simulated tasks inform the estimate.
func testConfig(p Params) Config {
	c := DefaultConfig()
	c.Params = p
	c.Trials = 20
	c.Executions = 1000
	c.Cheaters = 50
	return c
}

// The seed's parameters and the DESIGN.md defaults.
var (
	seedParams    = Params{P: 0.08, Slash: 10, Reward: 1, Collusion: 0.1}
	defaultParams = Params{P: 0.08, Slash: 20, Reward: 1, Collusion: 0.1}
)

func mustRun(t *testing.T, c Config) Result {
	t.Helper()
	r, err := Run(c)
	if err != nil {
		t.Fatalf("Run(%+v): %v", c.Params, err)
	}
	return r
}

func TestSeedParametersPay(t *testing.T) {
	r := mustRun(t, testConfig(seedParams))
	if !(r.ProfitLow > 0) {
		t.Errorf("seed parameters: gain %+.4f, CI [%+.4f, %+.4f]; want the interval above 0", r.ProfitMean, r.ProfitLow, r.ProfitHigh)
	}
	if r.Expected <= 0 || r.P >= r.ThresholdP {
		t.Errorf("seed parameters: E = %g, p* = %g; want E > 0 and p < p*", r.Expected, r.ThresholdP)
	}
	if !(r.RealizedLow > 0) {
		t.Errorf("seed parameters: realised profit per task CI [%+.4f, %+.4f]; want it above 0", r.RealizedLow, r.RealizedHigh)
	}
}

func TestDefaultsDoNotPay(t *testing.T) {
	r := mustRun(t, testConfig(defaultParams))
	if !(r.ProfitHigh < 0) {
		t.Errorf("defaults: gain %+.4f, CI [%+.4f, %+.4f]; want the interval below 0", r.ProfitMean, r.ProfitLow, r.ProfitHigh)
	}
	if r.Expected >= 0 || r.P <= r.ThresholdP {
		t.Errorf("defaults: E = %g, p* = %g; want E < 0 and p > p*", r.Expected, r.ThresholdP)
	}
	if !(r.RealizedHigh < 0) {
		t.Errorf("defaults: realised profit per task CI [%+.4f, %+.4f]; want it below 0", r.RealizedLow, r.RealizedHigh)
	}
}

// TestSignChangesAtThreshold sweeps p across p* and checks that the simulated
// gain is significantly positive 15 % below it, significantly negative 15 %
// above it, and crosses zero within 8 % of it.
func TestSignChangesAtThreshold(t *testing.T) {
	for _, base := range []Params{seedParams, defaultParams, {Slash: 5, Reward: 2, Collusion: 0.3}} {
		star := base.Threshold()
		sw, err := RunSweep(context.Background(), testConfig(base), ParamP, Grid(0.7*star, 1.3*star, 5))
		if err != nil {
			t.Fatal(err)
		}
		pts := sw.Points
		if !pts[1].Pays() || !pts[3].Loses() {
			t.Errorf("%+v: at 0.85 p* CI [%+.4f, %+.4f], at 1.15 p* CI [%+.4f, %+.4f]; want above 0, then below 0",
				base, pts[1].ProfitLow, pts[1].ProfitHigh, pts[3].ProfitLow, pts[3].ProfitHigh)
		}
		cross := math.NaN()
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			if a.ProfitMean > 0 && b.ProfitMean <= 0 {
				cross = a.P + (b.P-a.P)*a.ProfitMean/(a.ProfitMean-b.ProfitMean)
			}
		}
		if !(math.Abs(cross-star) <= 0.08*star) {
			t.Errorf("%+v: simulated gain crosses 0 at p = %.5f, predicted p* = %.5f", base, cross, star)
		}
	}
}

// TestAgreesWithFormula checks that the simulated mean stays within twice its
// interval's half-width of E = C − p(1−r)(R+S) across a sweep of each
// parameter.
func TestAgreesWithFormula(t *testing.T) {
	for _, q := range allParams {
		lo, hi := DefaultRange(seedParams, q)
		cfg := testConfig(seedParams)
		cfg.Trials = 10
		if q == ParamCollusion {
			cfg.Cheaters = 10 // leave enough honest nodes to collude
		}
		sw, err := RunSweep(context.Background(), cfg, q, Grid(lo, hi, 6))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range sw.Points {
			if h := (r.ProfitHigh - r.ProfitLow) / 2; math.Abs(r.ProfitMean-r.Expected) > 2*h+1e-9 {
				t.Errorf("%s = %g: simulated %+.4f ± %.4f, analytic %+.4f", q, r.Get(q), r.ProfitMean, h, r.Expected)
			}
		}
	}
}

func TestExtremes(t *testing.T) {
	// Never checked: every cheat goes through and gains exactly C.
	r := mustRun(t, testConfig(Params{P: 0, Slash: 10, Reward: 1, Collusion: 0.1}))
	if r.ProfitMean != C || r.ProfitLow != C || r.Caught != 0 {
		t.Errorf("p = 0: gain %v [%v, %v], %d caught; want exactly %v, none caught", r.ProfitMean, r.ProfitLow, r.ProfitHigh, r.Caught, C)
	}
	// Always checked, nobody colludes: every cheat is caught and gains C−R−S.
	r = mustRun(t, testConfig(Params{P: 1, Slash: 10, Reward: 1, Collusion: 0}))
	if math.Abs(r.ProfitMean-(C-11)) > 1e-9 || r.Caught != r.Cheats || r.Cheats == 0 {
		t.Errorf("p = 1: gain %v, %d of %d caught; want %v, all caught", r.ProfitMean, r.Caught, r.Cheats, C-11)
	}
	if r.CheatRate > 0.05 {
		t.Errorf("p = 1: cheaters cheated on %.1f%% of tasks; a learner should almost stop", 100*r.CheatRate)
	}
}

func TestDeterministic(t *testing.T) {
	c := testConfig(seedParams)
	c.Trials = 4
	a, b := mustRun(t, c), mustRun(t, c)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs with seed %d differ:\n%+v\n%+v", c.Seed, a, b)
	}
	c.Seed++
	if d := mustRun(t, c); d.ProfitMean == a.ProfitMean && d.Cheats == a.Cheats {
		t.Errorf("seeds %d and %d gave the same result", c.Seed-1, c.Seed)
	}
}

func TestValidate(t *testing.T) {
	good := testConfig(defaultParams)
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Config)
		field  string
		reason string
	}{
		{"p above 1", func(c *Config) { c.P = 1.5 }, "p", "[0, 1]"},
		{"p negative", func(c *Config) { c.P = -0.1 }, "p", "[0, 1]"},
		{"p NaN", func(c *Config) { c.P = math.NaN() }, "p", "finite"},
		{"slash negative", func(c *Config) { c.Slash = -1 }, "slash", "≥ 0"},
		{"reward infinite", func(c *Config) { c.Reward = math.Inf(1) }, "reward", "finite"},
		{"nothing at stake", func(c *Config) { c.Slash, c.Reward = 0, 0 }, "slash", "> 0"},
		{"collusion 1", func(c *Config) { c.Collusion = 1 }, "collusion", "[0, 1)"},
		{"too much collusion", func(c *Config) { c.Collusion = 0.8 }, "collusion", "lower cheaters"},
		{"one trial", func(c *Config) { c.Trials = 1 }, "trials", "2"},
		{"no cheater", func(c *Config) { c.Cheaters = 0 }, "cheaters", "at least 1"},
		{"all cheaters", func(c *Config) { c.Cheaters = c.Nodes }, "cheaters", "honest"},
		{"no executions", func(c *Config) { c.Executions = 0 }, "executions", "between"},
		{"no tasks", func(c *Config) { c.TasksPerExecution = 0 }, "tasks", "between"},
		{"too big", func(c *Config) { c.Trials, c.Executions = 100_000, 10_000_000 }, "trials", "lower"},
	} {
		c := good
		tc.edit(&c)
		err := c.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want a *FieldError wrapping ErrInvalid", tc.name, err)
			continue
		}
		if fe.Name != tc.field || !strings.Contains(fe.Reason, tc.reason) {
			t.Errorf("%s: got %q on %q, want field %q and a reason with %q", tc.name, fe.Reason, fe.Name, tc.field, tc.reason)
		}
		if _, err := Run(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Run accepted it: %v", tc.name, err)
		}
	}
}

func TestRunContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunContext(ctx, testConfig(seedParams)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: got %v, want context.Canceled", err)
	}
	if _, err := RunSweep(ctx, testConfig(seedParams), ParamP, []float64{0.1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled sweep: got %v, want context.Canceled", err)
	}
}
