package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrNoCheats is returned when no cheater cheated on any task, so the gain of
// cheating was never observed.
var ErrNoCheats = errors.New("no task was cheated on, so the gain of cheating is unobserved; raise trials or executions")

// Config is one simulation: the economics and the size of the marketplace.
type Config struct {
	Params
	// Trials is the number of independent marketplaces simulated, ≥ 2.
	Trials int
	// Nodes is the number of nodes in a marketplace (asserters and
	// validators alike), ≥ 3.
	Nodes int
	// Cheaters is how many of the nodes are rational cheaters, in [1, Nodes).
	Cheaters int
	// Executions is the number of executions per trial, ≥ 1.
	Executions int
	// TasksPerExecution is the number of tasks of one execution, ≥ 1.
	TasksPerExecution int
	// Seed selects the random streams; equal Configs give equal Results.
	Seed uint64
}

// Limits on the size of one simulation.
const (
	maxTrials     = 100_000
	maxNodes      = 1_000_000
	maxExecutions = 10_000_000
	maxTasks      = 1024
	maxTotalTasks = 2_000_000_000
)

// DefaultConfig returns the defaults of `splitup sim posp`: the DESIGN.md
// parameters (p 0.08, S 20, R 1, r 0.1) in a marketplace of 101 nodes, 10 of
// them cheaters, 5000 executions of 8 tasks per trial, 100 trials.
func DefaultConfig() Config {
	return Config{
		Params:            Params{P: 0.08, Slash: 20, Reward: 1, Collusion: 0.1},
		Trials:            100,
		Nodes:             101,
		Cheaters:          10,
		Executions:        5000,
		TasksPerExecution: 8,
		Seed:              1,
	}
}

// Colluders is the number of colluding validators, round(r·(Nodes−1)).
func (c Config) Colluders() int {
	return int(math.Round(c.Collusion * float64(c.Nodes-1)))
}

// Validate reports the first invalid field as a *FieldError.
func (c Config) Validate() error {
	if err := c.Params.Validate(); err != nil {
		return err
	}
	switch {
	case c.Trials < 2 || c.Trials > maxTrials:
		return invalid("trials", float64(c.Trials), "need between 2 and %d trials for a confidence interval", maxTrials)
	case c.Nodes < 3 || c.Nodes > maxNodes:
		return invalid("nodes", float64(c.Nodes), "need between 3 and %d nodes", maxNodes)
	case c.Cheaters < 1 || c.Cheaters >= c.Nodes:
		return invalid("cheaters", float64(c.Cheaters), "need at least 1 cheater and 1 honest node among the %d nodes", c.Nodes)
	case c.Executions < 1 || c.Executions > maxExecutions:
		return invalid("executions", float64(c.Executions), "need between 1 and %d executions per trial", maxExecutions)
	case c.TasksPerExecution < 1 || c.TasksPerExecution > maxTasks:
		return invalid("tasks", float64(c.TasksPerExecution), "need between 1 and %d tasks per execution", maxTasks)
	case float64(c.Trials)*float64(c.Executions)*float64(c.TasksPerExecution) > maxTotalTasks:
		return invalid("trials", float64(c.Trials), "trials × executions × tasks exceeds %d tasks; lower trials or executions", maxTotalTasks)
	}
	if k := c.Colluders(); k > c.Nodes-c.Cheaters {
		return invalid("collusion", c.Collusion, "needs %d colluding validators but only %d of the %d nodes are not cheaters; lower cheaters or collusion",
			k, c.Nodes-c.Cheaters, c.Nodes)
	}
	return nil
}

// Result is what one simulation measured. Money is in units of C.
type Result struct {
	Params
	// ThresholdP is p* = C / ((1−r)(R+S)).
	ThresholdP float64 `json:"threshold_p"`
	// Expected is the analytic gain of a cheated task, E = C − p(1−r)(R+S).
	Expected float64 `json:"expected_profit"`
	// ProfitMean is the simulated gain of a cheated task: the cheater's
	// profit on it minus an honest node's profit per task, averaged over all
	// cheated tasks; ProfitLow and ProfitHigh bound its 95 % interval.
	ProfitMean float64 `json:"cheater_profit_mean"`
	ProfitLow  float64 `json:"ci_low"`
	ProfitHigh float64 `json:"ci_high"`
	// RealizedMean is the cheaters' profit per assigned task (cheated or not)
	// minus an honest node's, with its 95 % interval.
	RealizedMean float64 `json:"realized_profit_mean"`
	RealizedLow  float64 `json:"realized_ci_low"`
	RealizedHigh float64 `json:"realized_ci_high"`
	// CheatRate is Cheats / CheaterTasks; CatchRate is Caught / Cheats.
	CheatRate float64 `json:"cheat_rate"`
	CatchRate float64 `json:"catch_rate"`
	// Tasks counts all tasks of all trials, CheaterTasks those assigned to
	// cheaters, Cheats those they cheated on, Caught the cheats caught.
	Tasks        int64 `json:"tasks"`
	CheaterTasks int64 `json:"cheater_tasks"`
	Cheats       int64 `json:"cheats"`
	Caught       int64 `json:"caught"`
	// The marketplace that was simulated.
	Trials            int    `json:"trials"`
	Nodes             int    `json:"nodes"`
	Cheaters          int    `json:"cheaters"`
	Colluders         int    `json:"colluders"`
	Executions        int    `json:"executions"`
	TasksPerExecution int    `json:"tasks_per_execution"`
	Seed              uint64 `json:"seed"`
}

// Pays reports whether cheating was significantly profitable (the interval
// lies above 0); Loses whether it was significantly unprofitable.
func (r Result) Pays() bool { return r.ProfitLow > 0 }

// Loses reports whether the gain of cheating was significantly negative.
func (r Result) Loses() bool { return r.ProfitHigh < 0 }

// Run simulates cfg.Trials independent marketplaces and returns what the
// cheaters gained. It returns ErrNoCheats if nobody ever cheated.
func Run(cfg Config) (Result, error) { return RunContext(context.Background(), cfg) }

// RunContext is Run that stops between trials, with ctx's error, once ctx is done.
func RunContext(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	res := Result{
		Params: cfg.Params, ThresholdP: cfg.Threshold(), Expected: cfg.Expected(),
		Trials: cfg.Trials, Nodes: cfg.Nodes, Cheaters: cfg.Cheaters, Colluders: cfg.Colluders(),
		Executions: cfg.Executions, TasksPerExecution: cfg.TasksPerExecution, Seed: cfg.Seed,
	}
	gain := make([]float64, cfg.Trials)
	cheats := make([]float64, cfg.Trials)
	assigned := make([]float64, cfg.Trials)
	for i := range cfg.Trials {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t := runTrial(cfg, i)
		gain[i], cheats[i], assigned[i] = t.gain, float64(t.cheats), float64(t.cheaterTasks)
		res.Tasks += t.tasks
		res.CheaterTasks += t.cheaterTasks
		res.Cheats += t.cheats
		res.Caught += t.caught
	}
	profit, ok := ratioInterval(gain, cheats)
	if !ok {
		return res, ErrNoCheats
	}
	realized, _ := ratioInterval(gain, assigned)
	res.ProfitMean, res.ProfitLow, res.ProfitHigh = profit.Mean, profit.Low, profit.High
	res.RealizedMean, res.RealizedLow, res.RealizedHigh = realized.Mean, realized.Low, realized.High
	res.CheatRate = float64(res.Cheats) / float64(res.CheaterTasks)
	res.CatchRate = float64(res.Caught) / float64(res.Cheats)
	return res, nil
}

// Sweep is a series of simulations that vary one parameter.
type Sweep struct {
	// Param is the parameter varied; Base holds the others.
	Param Param
	Base  Params
	// Critical is the value of Param at which E = 0 (Base.Critical(Param));
	// it may be ±Inf.
	Critical float64
	// Points holds one Result per value, in the order given.
	Points []Result
}

// RunSweep runs cfg once for each value of parameter q, all with the same
// seed (common random numbers, which keep the curve smooth). It stops with
// ctx's error once ctx is done.
func RunSweep(ctx context.Context, cfg Config, q Param, values []float64) (Sweep, error) {
	if _, err := ParseParam(string(q)); err != nil {
		return Sweep{}, err
	}
	sw := Sweep{Param: q, Base: cfg.Params, Critical: cfg.Critical(q)}
	for _, v := range values {
		c := cfg
		c.Params = cfg.With(q, v)
		r, err := RunContext(ctx, c)
		if err != nil {
			var fe *FieldError
			if ctx.Err() != nil || errors.As(err, &fe) {
				return sw, err
			}
			return sw, fmt.Errorf("%s = %g: %w", q, v, err)
		}
		sw.Points = append(sw.Points, r)
	}
	return sw, nil
}
