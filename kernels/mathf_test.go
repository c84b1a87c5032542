package kernels

import (
	"math"
	"math/rand"
	"testing"
)

// ulpDiff returns |got - want| in units of the float32 spacing at want.
func ulpDiff(got float32, want float64) float64 {
	if math.IsInf(want, 0) || want > math.MaxFloat32 {
		if math.IsInf(float64(got), 1) {
			return 0
		}
		return math.Abs(float64(got)-math.MaxFloat32) / math.Ldexp(1, 104)
	}
	e := math.Ilogb(want)
	if want == 0 || e < -126 {
		e = -126
	}
	return math.Abs(float64(got)-want) / math.Ldexp(1, e-23)
}

func TestExp32Accuracy(t *testing.T) {
	worst := 0.0
	check := func(x float32) {
		got := exp32(x)
		want := math.Exp(float64(x))
		if d := ulpDiff(got, want); d > worst {
			worst = d
			if d > 2 {
				t.Fatalf("exp32(%v) = %v, want %v (%.2f ulp)", x, got, want, d)
			}
		}
	}
	// Every 1021st float32 in [-104, 89], both signs, plus random points.
	for b := uint32(0); b < 0x42b20000; b += 1021 {
		check(math.Float32frombits(b))
	}
	for b := uint32(0x80000000); b < 0xc2d00000; b += 1021 {
		check(math.Float32frombits(b))
	}
	r := rand.New(rand.NewSource(11))
	for i := 0; i < 100000; i++ {
		check(float32(r.Float64()*193 - 104))
	}
	t.Logf("worst error %.3f ulp", worst)
	for x, want := range map[float32]float32{0: 1, 89: float32(math.Inf(1)), 200: float32(math.Inf(1)), -200: 0} {
		if got := exp32(x); got != want {
			t.Errorf("exp32(%v) = %v, want %v", x, got, want)
		}
	}
	if got := exp32(float32(math.Inf(-1))); got != 0 {
		t.Errorf("exp32(-Inf) = %v", got)
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %v", got)
	}
}

func TestFloat64Routines(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	rel := func(got, want float64) float64 {
		if want == 0 {
			return math.Abs(got)
		}
		return math.Abs(got-want) / math.Abs(want)
	}
	for i := 0; i < 20000; i++ {
		x := math.Exp(r.Float64()*60 - 20)
		if e := rel(log64(x), math.Log(x)); e > 4e-16 && math.Abs(math.Log(x)) > 1e-3 {
			t.Fatalf("log64(%v) = %v, want %v", x, log64(x), math.Log(x))
		}
		y := r.Float64()*40 - 20
		if e := rel(exp64(y), math.Exp(y)); e > 4e-16 {
			t.Fatalf("exp64(%v) = %v, want %v", y, exp64(y), math.Exp(y))
		}
		a := float64(float32(r.Float64() * 1e5))
		s, c := sincos64(a)
		if math.Abs(s-math.Sin(a)) > 4e-16 || math.Abs(c-math.Cos(a)) > 4e-16 {
			t.Fatalf("sincos64(%v) = %v, %v, want %v, %v", a, s, c, math.Sin(a), math.Cos(a))
		}
	}
}

// TestRoPETable checks the tables against llama2.c's float32 recipe
// evaluated with the standard library.
func TestRoPETable(t *testing.T) {
	for _, c := range []struct {
		theta float32
		hs    int
	}{{10000, 8}, {10000, 64}, {500000, 128}, {10000, 6}} {
		freqs := ropeFreqs(c.theta, c.hs)
		for i, f := range freqs {
			e := float32(2*i) / float32(c.hs)
			want := 1 / float32(math.Pow(float64(c.theta), float64(e)))
			if ulpDiff(f, float64(want)) > 1 {
				t.Errorf("theta %v hs %d freq %d = %v, want %v", c.theta, c.hs, i, f, want)
			}
		}
		for _, pos := range []int32{0, 1, 7, 255, 4095} {
			row := ropeRow(c.theta, c.hs, pos)
			for i, f := range freqs {
				val := float32(pos) * f
				wc, ws := float32(math.Cos(float64(val))), float32(math.Sin(float64(val)))
				if ulpDiff(row[2*i], float64(wc)) > 1 || ulpDiff(row[2*i+1], float64(ws)) > 1 {
					t.Errorf("pos %d pair %d: cos, sin = %v, %v, want %v, %v", pos, i, row[2*i], row[2*i+1], wc, ws)
				}
			}
		}
	}
}

func TestExpSIMDMatchesScalar(t *testing.T) {
	if !haveSIMD {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(15))
	specials := []float32{0, float32(math.Copysign(0, -1)), 88.37, 88.38, 88.5, 89, -87.3, -87.4, -87.5, -103.9, -104.1,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 0.5 / log2e32, 1.5 / log2e32}
	for iter := 0; iter < 2000; iter++ {
		n := 8 * (1 + r.Intn(8))
		x := make([]float32, n)
		for i := range x {
			switch r.Intn(4) {
			case 0:
				x[i] = specials[r.Intn(len(specials))]
			case 1:
				x[i] = float32(r.Float64()*200 - 110)
			default:
				x[i] = float32(r.NormFloat64() * 5)
			}
		}
		m := float32(0)
		if r.Intn(2) == 0 {
			m = float32(r.NormFloat64())
		}
		got := make([]float32, n)
		var gl, wl [8]float32
		for i := 0; i < n; {
			i += expSubAVX(&got[i], &x[i], n-i, m, &gl)
			if i < n {
				for k := i; k < i+8; k++ {
					got[k] = exp32(x[k] - m)
					gl[k%8] += got[k]
				}
				i += 8
			}
		}
		for i, v := range x {
			want := exp32(v - m)
			wl[i%8] += want
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(got[i] != got[i] && want != want) {
				t.Fatalf("exp32(%v - %v): SIMD %v, scalar %v", v, m, got[i], want)
			}
		}
		for k := range wl {
			if math.Float32bits(gl[k]) != math.Float32bits(wl[k]) && !(gl[k] != gl[k] && wl[k] != wl[k]) {
				t.Fatalf("lane %d: SIMD %v, scalar %v", k, gl[k], wl[k])
			}
		}
	}
}

func TestSwiGLUSIMDMatchesScalar(t *testing.T) {
	if !haveSIMD {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(16))
	specials := []float32{0, float32(math.Copysign(0, -1)), 87.3, 87.4, 88.5, 89, 104.1, -88.37, -88.38, -89, -90,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 3e38, -3e38}
	for iter := 0; iter < 2000; iter++ {
		n := 1 + r.Intn(70)
		g, u := make([]float32, n), make([]float32, n)
		for i := range g {
			switch r.Intn(4) {
			case 0:
				g[i] = specials[r.Intn(len(specials))]
			case 1:
				g[i] = float32(r.Float64()*220 - 110)
			default:
				g[i] = float32(r.NormFloat64() * 5)
			}
			u[i] = float32(r.NormFloat64())
			if r.Intn(50) == 0 {
				u[i] = specials[r.Intn(len(specials))]
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		swigluRangeFast(true, got, g, u)
		swigluRange(want, g, u)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("swiglu(%v, %v): SIMD %v, scalar %v", g[i], u[i], got[i], want[i])
			}
		}
	}
	// Ordinary activations go through the kernel, not the scalar fallback.
	g, u := make([]float32, 64), make([]float32, 64)
	for i := range g {
		g[i], u[i] = float32(r.NormFloat64()*5), float32(r.NormFloat64())
	}
	if done := swigluAVX(&make([]float32, 64)[0], &g[0], &u[0], 64); done != 64 {
		t.Fatalf("the kernel did %d of 64 ordinary elements", done)
	}
}
