package sim

import (
	"math"
	"math/rand/v2"
)

// Interval is a point estimate with its 95 % confidence interval.
type Interval struct {
	Mean, Low, High float64
}

// ratioInterval estimates Σy/Σx from independent clusters (y[i], x[i]) — here
// a trial's total gain and its number of cheated (or assigned) tasks — with a
// 95 % Student t interval from the linearised residuals y[i] − R̂·x[i]. It
// returns ok == false when Σx is 0. With one cluster the interval is ±Inf.
func ratioInterval(y, x []float64) (iv Interval, ok bool) {
	k := len(y)
	var sy, sx float64
	for i := range y {
		sy += y[i]
		sx += x[i]
	}
	if sx == 0 {
		return Interval{}, false
	}
	r := sy / sx
	if k < 2 {
		return Interval{r, math.Inf(-1), math.Inf(1)}, true
	}
	var ss float64
	for i := range y {
		d := y[i] - r*x[i]
		ss += d * d
	}
	xbar := sx / float64(k)
	se := math.Sqrt(ss/float64(k-1)/float64(k)) / xbar
	h := t975(k-1) * se
	return Interval{r, r - h, r + h}, true
}

// z975 is the 0.975 quantile of the standard normal distribution.
const z975 = 1.959963984540054

// t975 returns the 0.975 quantile of Student's t distribution with df degrees
// of freedom: exact for df 1 and 2, otherwise the Cornish–Fisher expansion
// around the normal quantile (relative error below 1e-4 for df ≥ 3).
func t975(df int) float64 {
	switch {
	case df < 1:
		return math.Inf(1)
	case df == 1:
		return math.Tan(math.Pi * (0.975 - 0.5))
	case df == 2:
		const a = 0.975
		return (2*a - 1) / math.Sqrt(2*a*(1-a))
	}
	z, n := z975, float64(df)
	z2 := z * z
	g1 := z * (z2 + 1) / 4
	g2 := z * ((5*z2+16)*z2 + 3) / 96
	g3 := z * (((3*z2+19)*z2+17)*z2 - 15) / 384
	g4 := z * ((((79*z2+776)*z2+1482)*z2-1920)*z2 - 945) / 92160
	return z + g1/n + g2/(n*n) + g3/(n*n*n) + g4/(n*n*n*n)
}

// gammaVariate draws from the Gamma(shape, 1) distribution by the
// Marsaglia–Tsang squeeze method; shapes below 1 are boosted by U^(1/shape).
func gammaVariate(rng *rand.Rand, shape float64) float64 {
	if shape <= 0 {
		return 0
	}
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(rng.Float64(), 1/shape)
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < x2/2+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}

// betaVariate draws from the Beta(a, b) distribution.
func betaVariate(rng *rand.Rand, a, b float64) float64 {
	x := gammaVariate(rng, a)
	y := gammaVariate(rng, b)
	if x+y == 0 {
		return a / (a + b)
	}
	return x / (x + y)
}
