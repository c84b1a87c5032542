package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"

	"github.com/splitup/splitup/sim"
)

const simPoSPUsage = `usage: splitup sim posp [--p P] [--slash S] [--reward R] [--collusion r]
                        [--trials N] [--seed X] [--json] [--plot FILE.svg]
                        [--sweep PARAM [--from LO] [--to HI] [--points N]]

Simulates a Proof of Sampling marketplace of honest nodes, rational cheaters
and colluding validators, and reports what a cheater gains per cheated task
over an honest node (95 % confidence interval), next to the analytic
E = C − p(1−r)(R+S) and the threshold p* = C / ((1−r)(R+S)) where E = 0.
All money is in units of C, the compute cost a cheater saves.

The cheaters know R and S but learn the rate at which cheats are caught from
their own outcomes, and cheat when a draw from that belief says it pays.

With --sweep (or --plot, which sweeps p unless told otherwise) the simulation
is repeated over a grid of one parameter; --plot draws it as an SVG with the
threshold as a vertical line.

flags:
`

// simPoSPFlags are the parsed flags of `splitup sim posp`.
type simPoSPFlags struct {
	cfg       sim.Config
	json      bool
	plot      string
	sweep     string
	from, to  float64
	points    int
	setFlags  map[string]bool
	sweepMode bool
}

// runSimPoSP is `splitup sim posp`: it simulates the given parameters, and
// with --sweep or --plot a grid of one of them, and prints text or JSON.
func runSimPoSP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseSimPoSP(args, stdout)
	if err != nil {
		return err
	}
	base, err := sim.RunContext(ctx, f.cfg)
	if err != nil {
		return simError(err)
	}
	var sw *sim.Sweep
	if f.sweepMode {
		q, _ := sim.ParseParam(f.sweep)
		s, err := sim.RunSweep(ctx, f.cfg, q, sim.Grid(f.from, f.to, f.points))
		if err != nil {
			return simError(err)
		}
		sw = &s
		if f.plot != "" {
			if err := writePlot(f.plot, s); err != nil {
				return err
			}
		}
	}
	if f.json {
		return writeSimJSON(stdout, base, sw)
	}
	printResult(stdout, base)
	if sw != nil {
		printSweep(stdout, *sw)
		if f.plot != "" {
			fmt.Fprintf(stdout, "\nwrote the plot to %s\n", f.plot)
		}
	}
	return nil
}

// parseSimPoSP parses and checks the flags; bad use is a usageError that
// names the flag and what to do.
func parseSimPoSP(args []string, stdout io.Writer) (*simPoSPFlags, error) {
	f := &simPoSPFlags{cfg: sim.DefaultConfig(), setFlags: map[string]bool{}}
	fs := flag.NewFlagSet("splitup sim posp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &f.cfg
	fs.Float64Var(&c.P, "p", c.P, "probability `P` that a task is checked, in [0, 1]")
	fs.Float64Var(&c.Slash, "slash", c.Slash, "slash `S` of a caught asserter, in units of C")
	fs.Float64Var(&c.Reward, "reward", c.Reward, "payment `R` per task, forfeited when caught, in units of C")
	fs.Float64Var(&c.Collusion, "collusion", c.Collusion, "fraction `r` of validators that approve cheaters' wrong outputs, in [0, 1)")
	fs.IntVar(&c.Trials, "trials", c.Trials, "number `N` of independent marketplaces simulated (≥ 2)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed `X`; equal flags give equal output")
	fs.IntVar(&c.Nodes, "nodes", c.Nodes, "nodes per marketplace")
	fs.IntVar(&c.Cheaters, "cheaters", c.Cheaters, "rational cheaters among the nodes")
	fs.IntVar(&c.Executions, "executions", c.Executions, "executions per trial")
	fs.IntVar(&c.TasksPerExecution, "tasks", c.TasksPerExecution, "tasks per execution")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	fs.StringVar(&f.plot, "plot", "", "draw the sweep to `FILE.svg`")
	fs.StringVar(&f.sweep, "sweep", "", "vary `PARAM` (p, slash, reward or collusion) over a grid")
	fs.Float64Var(&f.from, "from", 0, "first value `LO` of the sweep (default: 0)")
	fs.Float64Var(&f.to, "to", 0, "last value `HI` of the sweep (default: about twice the critical value)")
	fs.IntVar(&f.points, "points", 21, "number `N` of grid points of the sweep")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, simPoSPUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, errHelp
		}
		return nil, flagError(fs, err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q: sim posp takes only flags, each with its value (--p 0.08)", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.setFlags[fl.Name] = true })
	if err := f.cfg.Validate(); err != nil {
		return nil, simError(err)
	}
	if err := f.checkSweep(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkSweep decides whether this is a sweep and checks its flags.
func (f *simPoSPFlags) checkSweep() error {
	if f.plot != "" && !strings.HasSuffix(strings.ToLower(f.plot), ".svg") {
		return usagef("--plot %s: only SVG is drawn; name the file with .svg, e.g. --plot posp.svg", f.plot)
	}
	f.sweepMode = f.sweep != "" || f.plot != ""
	if !f.sweepMode {
		for _, name := range []string{"from", "to", "points"} {
			if f.setFlags[name] {
				return usagef("--%s only applies to a sweep; add --sweep p (or slash, reward, collusion)", name)
			}
		}
		return nil
	}
	if f.sweep == "" {
		f.sweep = string(sim.ParamP)
	}
	q, err := sim.ParseParam(f.sweep)
	if err != nil {
		return usagef("--sweep %s: unknown parameter; use p, slash, reward or collusion", f.sweep)
	}
	lo, hi := sim.DefaultRange(f.cfg.Params, q)
	if f.setFlags["from"] {
		lo = f.from
	}
	if f.setFlags["to"] {
		hi = f.to
	}
	if f.points < 2 || f.points > 1000 {
		return usagef("--points %d: a sweep needs between 2 and 1000 points", f.points)
	}
	if !(lo < hi) {
		return usagef("--from %g --to %g: the sweep needs from < to", lo, hi)
	}
	for _, v := range []struct {
		flag string
		v    float64
	}{{"from", lo}, {"to", hi}} {
		c := f.cfg
		c.Params = c.With(q, v.v)
		if err := c.Validate(); err != nil {
			return usagef("--%s %g: %v", v.flag, v.v, err)
		}
	}
	f.from, f.to = lo, hi
	return nil
}

// badValue matches the flag package's error for a value that does not parse.
var badValue = regexp.MustCompile(`^invalid value "(.*)" for flag -([a-z]+): `)

// flagError turns a flag package error into a usage error that says what to do.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
		return usagef("unknown flag %s; the flags are %s", name, strings.Join(names, ", "))
	}
	if m := badValue.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[2]); f != nil {
			return usagef("--%s %q is not a valid value: give a number, e.g. --%s %s", m[2], m[1], m[2], f.DefValue)
		}
	}
	return usagef("%s", msg)
}

// simError reports an invalid setting as a usage error naming its flag.
func simError(err error) error {
	var fe *sim.FieldError
	if errors.As(err, &fe) {
		return usagef("--%s %g: %s", fe.Name, fe.Value, fe.Reason)
	}
	if errors.Is(err, sim.ErrNoCheats) {
		return fmt.Errorf("%w (e.g. --trials %d)", err, 10*sim.DefaultConfig().Trials)
	}
	return err
}

func writePlot(path string, sw sim.Sweep) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	if err := sim.WriteSVG(out, sw); err != nil {
		out.Close()
		return fmt.Errorf("write plot %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write plot %s: %w", path, err)
	}
	return nil
}

// simJSON is the --json output: the result at the given parameters, and the
// sweep when there is one.
type simJSON struct {
	sim.Result
	Verdict string     `json:"verdict"`
	Sweep   *sweepJSON `json:"sweep,omitempty"`
}

type sweepJSON struct {
	Param    sim.Param    `json:"param"`
	Critical *float64     `json:"critical"` // null when infinite
	Points   []sim.Result `json:"points"`
}

func writeSimJSON(w io.Writer, base sim.Result, sw *sim.Sweep) error {
	out := simJSON{Result: base, Verdict: verdict(base)}
	if sw != nil {
		s := &sweepJSON{Param: sw.Param, Points: sw.Points}
		if c := sw.Critical; !math.IsInf(c, 0) && !math.IsNaN(c) {
			s.Critical = &c
		}
		out.Sweep = s
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// verdict is "pays", "does not pay" or "undecided" (the interval holds 0).
func verdict(r sim.Result) string {
	switch {
	case r.Pays():
		return "pays"
	case r.Loses():
		return "does not pay"
	}
	return "undecided"
}

func printResult(w io.Writer, r sim.Result) {
	fmt.Fprintf(w, "PoSP simulation: p = %g, slash S = %g, reward R = %g, collusion r = %g (money in units of C)\n",
		r.P, r.Slash, r.Reward, r.Collusion)
	fmt.Fprintf(w, "  marketplace    %d trials × %d executions × %d tasks; %d nodes: %d rational cheaters, %d colluding validators; seed %d\n",
		r.Trials, r.Executions, r.TasksPerExecution, r.Nodes, r.Cheaters, r.Colluders, r.Seed)
	fmt.Fprintf(w, "  threshold      p* = C/((1−r)(R+S)) = %.4f\n", r.ThresholdP)
	fmt.Fprintf(w, "  analytic       E = C − p(1−r)(R+S) = %+.4f per cheated task\n", unzero(r.Expected))
	fmt.Fprintf(w, "  simulated      %+.4f per cheated task, 95%% CI [%+.4f, %+.4f]  (%d cheated tasks, %.1f%% caught)\n",
		r.ProfitMean, r.ProfitLow, r.ProfitHigh, r.Cheats, 100*r.CatchRate)
	fmt.Fprintf(w, "  cheaters       cheated on %.1f%% of their tasks; profit per task vs an honest node %+.4f, 95%% CI [%+.4f, %+.4f]\n",
		100*r.CheatRate, r.RealizedMean, r.RealizedLow, r.RealizedHigh)
	side := "below"
	if r.P >= r.ThresholdP {
		side = "not below"
	}
	switch verdict(r) {
	case "pays":
		fmt.Fprintf(w, "verdict: cheating pays (the interval lies above 0); p = %g is %s p* = %.4f\n", r.P, side, r.ThresholdP)
	case "does not pay":
		fmt.Fprintf(w, "verdict: cheating does not pay (the interval lies below 0); p = %g is %s p* = %.4f\n", r.P, side, r.ThresholdP)
	default:
		fmt.Fprintf(w, "verdict: undecided, the interval contains 0 (p = %g is %s p* = %.4f); more --trials narrow it\n", r.P, side, r.ThresholdP)
	}
}

func printSweep(w io.Writer, sw sim.Sweep) {
	fmt.Fprintf(w, "\nsweep over %s; E = 0 at %s = %.4g\n", sw.Param.Label(), sw.Param, sw.Critical)
	fmt.Fprintf(w, "%10s %12s %12s %25s %8s\n", sw.Param, "analytic E", "simulated", "95% CI", "cheated")
	for _, r := range sw.Points {
		ci := fmt.Sprintf("[%+.4f, %+.4f]", r.ProfitLow, r.ProfitHigh)
		fmt.Fprintf(w, "%10.4g %+12.4f %+12.4f %25s %7.1f%%\n", r.Get(sw.Param), unzero(r.Expected), r.ProfitMean, ci, 100*r.CheatRate)
	}
}

// unzero maps values that are zero up to rounding to 0, so that they do not
// print as -0.0000.
func unzero(v float64) float64 {
	if math.Abs(v) < 1e-12 {
		return 0
	}
	return v
}
