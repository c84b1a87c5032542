package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestT975(t *testing.T) {
	// Quantiles from standard tables.
	for _, tc := range []struct {
		df   int
		want float64
	}{{1, 12.7062}, {2, 4.3027}, {3, 3.1824}, {4, 2.7764}, {5, 2.5706}, {9, 2.2622}, {19, 2.0930}, {29, 2.0452}, {99, 1.9842}, {1000, 1.9623}} {
		if got := t975(tc.df); math.Abs(got-tc.want) > 2e-3*tc.want {
			t.Errorf("t975(%d) = %.4f, want %.4f", tc.df, got, tc.want)
		}
	}
}

func TestRatioInterval(t *testing.T) {
	// Three clusters whose ratios are 1, 2 and 3 with equal sizes: the
	// ratio estimator is the plain mean 2 with the usual t interval.
	iv, ok := ratioInterval([]float64{10, 20, 30}, []float64{10, 10, 10})
	h := t975(2) * 1 / math.Sqrt(3)
	if !ok || math.Abs(iv.Mean-2) > 1e-12 || math.Abs(iv.High-iv.Mean-h) > 1e-12 || math.Abs(iv.Mean-iv.Low-h) > 1e-12 {
		t.Errorf("got %+v, %v; want 2 ± %g", iv, ok, h)
	}
	if _, ok := ratioInterval([]float64{0, 0}, []float64{0, 0}); ok {
		t.Error("empty denominators gave an estimate")
	}
}

func TestBetaVariateMeans(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ a, b float64 }{{0.5, 0.5}, {2, 5}, {0.5, 40.5}, {30, 3}} {
		const n = 20000
		var s float64
		for range n {
			x := betaVariate(rng, tc.a, tc.b)
			if !(x >= 0 && x <= 1) {
				t.Fatalf("Beta(%g, %g) drew %g", tc.a, tc.b, x)
			}
			s += x
		}
		mean, want := s/n, tc.a/(tc.a+tc.b)
		sd := math.Sqrt(tc.a * tc.b / ((tc.a + tc.b) * (tc.a + tc.b) * (tc.a + tc.b + 1)))
		if math.Abs(mean-want) > 5*sd/math.Sqrt(n) {
			t.Errorf("Beta(%g, %g): mean %.4f, want %.4f", tc.a, tc.b, mean, want)
		}
	}
}
