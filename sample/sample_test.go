package sample

import (
	"math"
	"math/rand"
	"reflect"
	"sort"
	"testing"
	"testing/quick"
)

// Golden values of run.c's random_u32 / random_f32, computed with an
// independent implementation of xorshift64*.
func TestRNGGolden(t *testing.T) {
	tests := []struct {
		seed uint64
		u32  []uint32
		f32  float32 // first Float32 from a fresh generator
	}{
		{1, []uint32{1206177355, 2882512552, 3117485455, 1303648416, 241277360}, 0.28083503246307373},
		{42, []uint32{1456360119, 3359763283, 3393612768, 4054632243, 3283045847}, 0.3390852212905884},
		{0xDEADBEEF, []uint32{1175786065, 2108821976, 1274932905, 3110875537, 574568356}, 0.27375900745391846},
	}
	for _, tt := range tests {
		r := RNG{State: tt.seed}
		for i, want := range tt.u32 {
			if got := r.Uint32(); got != want {
				t.Errorf("seed %d: Uint32 #%d = %d, want %d", tt.seed, i, got, want)
			}
		}
		r = RNG{State: tt.seed}
		if got := r.Float32(); got != tt.f32 {
			t.Errorf("seed %d: Float32 = %v, want %v", tt.seed, got, tt.f32)
		}
	}
}

func logs(ps ...float64) []float32 {
	out := make([]float32, len(ps))
	for i, p := range ps {
		out[i] = float32(math.Log(p))
	}
	return out
}

func TestNextTable(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		logits []float32
		want   []int // successive draws
	}{
		{"greedy", Config{}, []float32{1, 2, 3, 2}, []int{2, 2}},
		{"greedy first max on ties", Config{}, []float32{3, 1, 3}, []int{0}},
		{"greedy negative", Config{}, []float32{-5, -1, -3}, []int{1}},
		{"greedy single", Config{}, []float32{7}, []int{0}},
		// Uniform over 4: coins 0.2808, 0.6711, 0.7258, 0.3035 (seed 1).
		{"multinomial uniform", Config{Temperature: 1, Seed: 1}, []float32{0, 0, 0, 0}, []int{1, 2, 2, 1}},
		{"top_p 1 is multinomial", Config{Temperature: 1, TopP: 1, Seed: 1}, []float32{0, 0, 0, 0}, []int{1, 2, 2, 1}},
		// Probabilities .05 .5 .15 .3, nucleus {1, 3} (mass .8 > .7);
		// r = coin*.8: .2247 -> token 1, .5369 -> token 3.
		{"top_p nucleus", Config{Temperature: 1, TopP: 0.7, Seed: 1}, logs(0.05, 0.5, 0.15, 0.3), []int{1, 3}},
		// Nucleus {1} only: always token 1 whatever the coin.
		{"top_p tiny nucleus", Config{Temperature: 1, TopP: 0.3, Seed: 1}, logs(0.05, 0.5, 0.15, 0.3), []int{1, 1, 1, 1, 1}},
		{"top_p single token", Config{Temperature: 0.5, TopP: 0.9, Seed: 3}, []float32{2}, []int{0, 0}},
		// Low temperature sharpens toward the argmax.
		{"cold", Config{Temperature: 0.01, Seed: 9}, []float32{1, 2, 1.5}, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.cfg)
			orig := append([]float32(nil), tt.logits...)
			for i, want := range tt.want {
				if got := s.Next(tt.logits); got != want {
					t.Errorf("draw %d = %d, want %d", i, got, want)
				}
			}
			if !reflect.DeepEqual(orig, tt.logits) {
				t.Errorf("Next modified logits: %v -> %v", orig, tt.logits)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	bad := []Config{{Temperature: -1}, {Temperature: nan}, {Temperature: inf}, {TopP: -0.1}, {TopP: nan}}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate = nil, want error", c)
		}
	}
	good := []Config{{}, {Temperature: 2, TopP: 0.9, Seed: 5}, {Temperature: 1, TopP: 1}}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: Validate = %v", c, err)
		}
	}
}

func TestZeroSeedIsUsable(t *testing.T) {
	a, b := New(Config{Temperature: 1}), New(Config{Temperature: 1, Seed: DefaultSeed})
	logits := []float32{0, 0, 0, 0, 0, 0, 0, 0}
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		x, y := a.Next(logits), b.Next(logits)
		if x != y {
			t.Fatalf("draw %d: seed 0 gave %d, DefaultSeed gave %d", i, x, y)
		}
		seen[x] = true
	}
	if len(seen) < 2 {
		t.Fatalf("seed 0 produced a constant stream: %v", seen)
	}
}

// randomLogits turns quick's raw values into a usable logits vector.
func randomLogits(raw []float32) []float32 {
	if len(raw) == 0 {
		raw = []float32{0}
	}
	out := make([]float32, len(raw))
	for i, v := range raw {
		if isBad(v) {
			v = 0
		}
		out[i] = float32(math.Mod(float64(v), 20))
	}
	return out
}

func TestPropGreedyIsArgmax(t *testing.T) {
	f := func(raw []float32) bool {
		l := randomLogits(raw)
		got := New(Config{}).Next(l)
		for i, v := range l {
			if v > l[got] || (v == l[got] && i < got) {
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPropSoftmax(t *testing.T) {
	f := func(raw []float32) bool {
		x := randomLogits(raw)
		Softmax(x)
		var sum float64
		for _, p := range x {
			if p < 0 || p > 1 || isBad(p) {
				return false
			}
			sum += float64(p)
		}
		return math.Abs(sum-1) < 1e-4
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

// refTopP is a dumb reference for nucleus sampling: sort every token (no
// cutoff pre-filter), take the shortest prefix whose mass exceeds topp, and
// sample in it.
func refTopP(probs []float32, topp, coin float32) int {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	var cum float32
	last := len(idx) - 1
	for i, j := range idx {
		cum += probs[j]
		if cum > topp {
			last = i
			break
		}
	}
	r := coin * cum
	var cdf float32
	for i := 0; i <= last; i++ {
		cdf += probs[idx[i]]
		if r < cdf {
			return idx[i]
		}
	}
	return idx[last]
}

func TestPropTopPMatchesReference(t *testing.T) {
	f := func(raw []float32, toppRaw, coinRaw uint16) bool {
		probs := randomLogits(raw)
		Softmax(probs)
		topp := 0.05 + 0.9*float32(toppRaw)/65535 // in (0, 1), well inside
		coin := float32(coinRaw) / 65536
		return TopP(probs, topp, coin) == refTopP(probs, topp, coin)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

func TestPropMultinomialInRangeAndPositive(t *testing.T) {
	f := func(raw []float32, coinRaw uint16) bool {
		probs := randomLogits(raw)
		Softmax(probs)
		coin := float32(coinRaw) / 65536
		i := Multinomial(probs, coin)
		return i >= 0 && i < len(probs)
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPropSameSeedSameTokens(t *testing.T) {
	f := func(raw []float32, seed uint64, temp, topp uint8) bool {
		l := randomLogits(raw)
		cfg := Config{Temperature: float32(temp) / 64, TopP: float32(topp) / 200, Seed: seed}
		a, b := New(cfg), New(cfg)
		for i := 0; i < 8; i++ {
			x, y := a.Next(l), b.Next(l)
			if x != y || x < 0 || x >= len(l) {
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMultinomialFrequencies(t *testing.T) {
	want := []float64{0.1, 0.2, 0.3, 0.4}
	s := New(Config{Temperature: 1, Seed: 2024})
	l := logs(want...)
	const n = 40000
	counts := make([]int, len(want))
	for i := 0; i < n; i++ {
		counts[s.Next(l)]++
	}
	for i, p := range want {
		got := float64(counts[i]) / n
		if math.Abs(got-p) > 0.015 {
			t.Errorf("token %d frequency %.4f, want %.2f±0.015", i, got, p)
		}
	}
}

func TestTopPNeverLeavesNucleus(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		l := make([]float32, 2+rnd.Intn(60))
		for i := range l {
			l[i] = float32(rnd.NormFloat64() * 3)
		}
		probs := append([]float32(nil), l...)
		Softmax(probs)
		top := Argmax(probs)
		topp := probs[top] * 0.9 // the nucleus is the top token alone
		s := New(Config{Temperature: 1, TopP: topp, Seed: uint64(trial + 1)})
		for k := 0; k < 5; k++ {
			if got := s.Next(l); got != top {
				t.Fatalf("trial %d: got %d, want the only nucleus token %d", trial, got, top)
			}
		}
	}
}

func TestNextPanicsOnEmpty(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(Config{}).Next(nil)
}

func BenchmarkNextTopP(b *testing.B) {
	l := make([]float32, 32000)
	rnd := rand.New(rand.NewSource(1))
	for i := range l {
		l[i] = float32(rnd.NormFloat64())
	}
	s := New(Config{Temperature: 1, TopP: 0.9, Seed: 1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Next(l)
	}
}

// TestTinyTemperatureIsArgmax: a temperature so small that the scaled
// logits overflow samples the argmax (their limit), not NaNs.
func TestTinyTemperatureIsArgmax(t *testing.T) {
	for _, l := range [][]float32{{1, 3, 2}, {-1, -0.5, -3}, {0, 0.25, float32(math.Inf(-1))}} {
		want := Argmax(l)
		for seed := range uint64(20) {
			if got := New(Config{Temperature: 1e-40, TopP: 1, Seed: seed}).Next(l); got != want {
				t.Fatalf("logits %v at temperature 1e-40, seed %d: token %d, want the argmax %d", l, seed, got, want)
			}
		}
	}
}
