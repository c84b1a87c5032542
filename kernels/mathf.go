package kernels

import (
	"math"
	"sync"
)

// This file holds the scalar functions the kernels are defined with. None
// uses math.Exp, math.Log, math.Pow, math.Sin or math.Cos: those have
// architecture-specific assembly, and Go fuses x*y+z into one instruction
// on some architectures. Here every product is explicitly rounded.

// sqrt32 is the correctly rounded float32 square root.
func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }

// tree8 sums 8 lanes in the canonical order
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
func tree8(l *[8]float32) float32 {
	return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

const (
	log2e32 = 1.44269504088896340736
	ln2Hi32 = 0.693145751953125     // 0x3f317200: n*ln2Hi32 is exact for |n| < 512
	ln2Lo32 = 1.428606765330187e-06 // ln2 - ln2Hi32, rounded to float32
)

// exp32 is the canonical float32 exponential: Cody-Waite range reduction
// x = n*ln2 + r, a degree-7 polynomial for e^r and a scaling by 2^n, every
// step rounded to float32. Its error is below 2 ulp of the exact value.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 89:
		return float32(math.Inf(1))
	case x < -104:
		return 0
	}
	n := roundHalfAway(float32(x * log2e32))
	kf := float32(n)
	r := x - float32(kf*ln2Hi32)
	r -= float32(kf * ln2Lo32)
	q := float32(1.0 / 5040)
	q = float32(q*r) + 1.0/720
	q = float32(q*r) + 1.0/120
	q = float32(q*r) + 1.0/24
	q = float32(q*r) + 1.0/6
	q = float32(q*r) + 0.5
	p := 1 + (r + float32(float32(r*r)*q))
	// Scale by 2^n in at most two exact steps and one final rounding.
	switch {
	case n > 127:
		return float32(p*pow2f(n-1)) * 2
	case n < -126:
		return float32(p*pow2f(n+64)) * pow2f(-64)
	}
	return p * pow2f(n)
}

// pow2f returns 2^n for -126 <= n <= 127.
func pow2f(n int32) float32 { return math.Float32frombits(uint32(n+127) << 23) }

// The float64 routines below compute the RoPE tables. They are accurate to
// a few float64 ulp, so their float32 roundings are almost always the
// correctly rounded values (what glibc's powf, sinf and cosf return).

const (
	ln2Hi64 = 6.93147180369123816490e-01 // high 32 bits of ln 2
	ln2Lo64 = 1.90821492927058770002e-10 // ln 2 - ln2Hi64
	sqrt2   = 1.41421356237309504880
)

// log64 is the natural logarithm of a positive, finite, normal x.
func log64(x float64) float64 {
	b := math.Float64bits(x)
	k := int64(b>>52&0x7ff) - 1023
	m := math.Float64frombits(b&^(0x7ff<<52) | 1023<<52) // in [1, 2)
	if m > sqrt2 {
		m /= 2
		k++
	}
	s := (m - 1) / (m + 1)
	s2 := float64(s * s)
	t := 1.0 / 23
	for j := 21; j >= 1; j -= 2 {
		t = float64(t*s2) + 1/float64(j)
	}
	lm := float64(2 * float64(s*t))
	kf := float64(k)
	return float64(kf*ln2Hi64) + (lm + float64(kf*ln2Lo64))
}

// exp64 is e^x for |x| < 700.
func exp64(x float64) float64 {
	n := math.Floor(float64(x*1.44269504088896338700) + 0.5)
	r := x - float64(n*ln2Hi64)
	r -= float64(n * ln2Lo64)
	p := 1.0 / 6227020800 // 1/13!
	for k := 12; k >= 1; k-- {
		p = float64(p*r) + 1/factorial(k)
	}
	p = float64(p*r) + 1
	return math.Ldexp(p, int(n))
}

func factorial(k int) float64 {
	f := 1.0
	for i := 2; i <= k; i++ {
		f *= float64(i)
	}
	return f
}

// fdlibm's three-part split of pi/2: each of the first two parts has 33
// significant bits, so k*part is exact for |k| < 2^20.
const (
	pio2a   = 1.57079632673412561417e+00
	pio2b   = 6.07710050630396597660e-11
	pio2c   = 2.02226624871116645580e-21
	twoOvPi = 6.36619772367581382433e-01
)

// sincos64 returns sin x and cos x. It is accurate for |x| < 2^20*pi/2 and
// deterministic everywhere.
func sincos64(x float64) (sin, cos float64) {
	k := math.Floor(float64(x*twoOvPi) + 0.5)
	r := x - float64(k*pio2a)
	r -= float64(k * pio2b)
	r -= float64(k * pio2c)
	s, c := sinKernel(r), cosKernel(r)
	switch int64(k) & 3 {
	case 0:
		return s, c
	case 1:
		return c, -s
	case 2:
		return -s, -c
	default:
		return -c, s
	}
}

// sinKernel is the Taylor series of sin on |r| <= pi/4 up to r^19.
func sinKernel(r float64) float64 {
	r2 := float64(r * r)
	p := -1 / factorial(19)
	for k := 17; k >= 3; k -= 2 {
		sign := 1.0
		if k%4 == 3 {
			sign = -1
		}
		p = float64(p*r2) + sign/factorial(k)
	}
	return r + float64(float64(r*r2)*p)
}

// cosKernel is the Taylor series of cos on |r| <= pi/4 up to r^20.
func cosKernel(r float64) float64 {
	r2 := float64(r * r)
	p := 1 / factorial(20)
	for k := 18; k >= 4; k -= 2 {
		sign := 1.0
		if k%4 == 2 {
			sign = -1
		}
		p = float64(p*r2) + sign/factorial(k)
	}
	return (1 - float64(r2*0.5)) + float64(float64(r2*r2)*p)
}

// ropeFreqs returns the per-pair frequencies of RoPE for one head, the
// llama2.c way in float32: freq_i = 1 / powf(theta, float32(2i)/float32(headSize)).
func ropeFreqs(theta float32, headSize int) []float32 {
	lt := log64(float64(theta))
	f := make([]float32, headSize/2)
	for i := range f {
		e := float32(2*i) / float32(headSize)
		p := float32(exp64(float64(float64(e) * lt)))
		f[i] = 1 / p
	}
	return f
}

// ropeTable caches cos and sin of pos*freq_i for one (theta, headSize),
// for positions 0..len(rows)-1.
type ropeTable struct {
	freqs []float32
	mu    sync.Mutex  // guards rows
	rows  [][]float32 // rows[pos] = cos_0, sin_0, cos_1, sin_1, ...
}

type ropeKey struct {
	theta    float32
	headSize int
}

var (
	ropeMu     sync.Mutex // guards ropeTables
	ropeTables = map[ropeKey]*ropeTable{}
)

// ropeRow returns the interleaved cos/sin values of position pos.
// The returned slice is never modified afterwards.
func ropeRow(theta float32, headSize int, pos int32) []float32 {
	key := ropeKey{theta, headSize}
	ropeMu.Lock()
	tab := ropeTables[key]
	if tab == nil {
		tab = &ropeTable{freqs: ropeFreqs(theta, headSize)}
		ropeTables[key] = tab
	}
	ropeMu.Unlock()
	tab.mu.Lock()
	defer tab.mu.Unlock()
	for int(pos) >= len(tab.rows) {
		p := float32(len(tab.rows))
		row := make([]float32, 2*len(tab.freqs))
		for i, f := range tab.freqs {
			s, c := sincos64(float64(p * f))
			row[2*i], row[2*i+1] = float32(c), float32(s)
		}
		tab.rows = append(tab.rows, row)
	}
	return tab.rows[pos]
}
