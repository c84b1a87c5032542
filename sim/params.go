package sim

import (
	"errors"
	"fmt"
	"math"
)

// C is the compute cost of one task, the unit of all money in this package.
const C = 1.0

// ErrInvalid is wrapped by every error about an invalid parameter or setting.
var ErrInvalid = errors.New("invalid simulation setting")

// FieldError says which setting is invalid and why. Name is the setting's
// name as the CLI spells its flag ("p", "slash", "trials", …).
type FieldError struct {
	Name   string
	Value  float64
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %g: %s", e.Name, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(name string, v float64, format string, a ...any) error {
	return &FieldError{Name: name, Value: v, Reason: fmt.Sprintf(format, a...)}
}

// Params are the PoSP economics, money in units of C.
type Params struct {
	// P is the probability that a task is checked, in [0, 1].
	P float64 `json:"p"`
	// Slash is S, what a caught asserter loses from its stake, ≥ 0.
	Slash float64 `json:"slash"`
	// Reward is R, what an asserter is paid per task and forfeits when caught, ≥ 0.
	Reward float64 `json:"reward"`
	// Collusion is r, the fraction of validators that approve a cheater's
	// wrong output, in [0, 1).
	Collusion float64 `json:"collusion"`
}

// Validate reports the first invalid field as a *FieldError.
func (p Params) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"p", p.P}, {"slash", p.Slash}, {"reward", p.Reward}, {"collusion", p.Collusion}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return invalid(f.name, f.v, "must be a finite number")
		}
	}
	switch {
	case p.P < 0 || p.P > 1:
		return invalid("p", p.P, "the verification probability must be in [0, 1]")
	case p.Slash < 0:
		return invalid("slash", p.Slash, "the slash must be ≥ 0 (in units of C)")
	case p.Reward < 0:
		return invalid("reward", p.Reward, "the reward must be ≥ 0 (in units of C)")
	case p.Reward+p.Slash <= 0:
		return invalid("slash", p.Slash, "reward + slash must be > 0, or a caught cheater loses nothing")
	case p.Collusion < 0 || p.Collusion >= 1:
		return invalid("collusion", p.Collusion, "the colluding fraction must be in [0, 1)")
	}
	return nil
}

// Threshold is p* = C / ((1−r)(R+S)), the verification probability at which
// cheating on a task neither gains nor loses. It may exceed 1.
func (p Params) Threshold() float64 {
	return C / ((1 - p.Collusion) * (p.Reward + p.Slash))
}

// Expected is E = C − p(1−r)(R+S), the analytic expected gain of cheating on
// one task over doing it honestly. It is positive exactly when p < p*.
func (p Params) Expected() float64 {
	return C - p.P*(1-p.Collusion)*(p.Reward+p.Slash)
}

// Param names one of the four parameters, spelled as the CLI's flag.
type Param string

// The parameters a sweep can vary.
const (
	ParamP         Param = "p"
	ParamSlash     Param = "slash"
	ParamReward    Param = "reward"
	ParamCollusion Param = "collusion"
)

// allParams lists the parameters in their usual order.
var allParams = []Param{ParamP, ParamSlash, ParamReward, ParamCollusion}

// ParseParam parses a parameter name.
func ParseParam(s string) (Param, error) {
	for _, p := range allParams {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: unknown parameter %q; use p, slash, reward or collusion", ErrInvalid, s)
}

// Label is a short human description of the parameter, for axes and tables.
func (q Param) Label() string {
	switch q {
	case ParamP:
		return "verification probability p"
	case ParamSlash:
		return "slash S (units of C)"
	case ParamReward:
		return "reward R (units of C)"
	case ParamCollusion:
		return "colluding fraction r"
	}
	return string(q)
}

// Get returns the value of parameter q.
func (p Params) Get(q Param) float64 {
	switch q {
	case ParamP:
		return p.P
	case ParamSlash:
		return p.Slash
	case ParamReward:
		return p.Reward
	case ParamCollusion:
		return p.Collusion
	}
	panic("sim: unknown parameter " + string(q))
}

// With returns p with parameter q set to v.
func (p Params) With(q Param, v float64) Params {
	switch q {
	case ParamP:
		p.P = v
	case ParamSlash:
		p.Slash = v
	case ParamReward:
		p.Reward = v
	case ParamCollusion:
		p.Collusion = v
	default:
		panic("sim: unknown parameter " + string(q))
	}
	return p
}

// Critical returns the value of parameter q at which E = 0, the others held
// at their values in p. Cheating pays below it for p, slash and reward and
// above it for collusion. The result may lie outside the parameter's valid
// range, and is ±Inf where no finite value exists (p = 0).
func (p Params) Critical(q Param) float64 {
	switch q {
	case ParamP:
		return p.Threshold()
	case ParamSlash:
		return C/(p.P*(1-p.Collusion)) - p.Reward
	case ParamReward:
		return C/(p.P*(1-p.Collusion)) - p.Slash
	case ParamCollusion:
		return 1 - C/(p.P*(p.Reward+p.Slash))
	}
	panic("sim: unknown parameter " + string(q))
}

// DefaultRange is the sweep range used when none is given: from 0 to about
// twice the critical value, so that the sign change sits in the middle, and
// always including the base value.
func DefaultRange(base Params, q Param) (lo, hi float64) {
	crit := base.Critical(q)
	switch q {
	case ParamP:
		hi = 1
		if c := 2 * crit; c < hi {
			hi = max(c, 1.25*base.P)
		}
		return 0, min(hi, 1)
	case ParamCollusion:
		return 0, 0.9
	}
	hi = 1.25 * base.Get(q)
	if !math.IsInf(crit, 0) && !math.IsNaN(crit) {
		hi = max(hi, 2*crit)
	}
	return 0, max(hi, 1)
}

// Grid returns n evenly spaced values from lo to hi inclusive (n ≥ 2), or
// just lo when n == 1.
func Grid(lo, hi float64, n int) []float64 {
	if n <= 1 {
		return []float64{lo}
	}
	g := make([]float64, n)
	for i := range g {
		g[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	g[n-1] = hi
	return g
}
