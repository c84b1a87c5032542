package exec_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
	"github.com/splitup/splitup/models/llama"
)

var tiny = llama.Config{Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 100, Context: 64}.Defaults()

// randomModel returns a small LLaMA graph and seeded random weights stored
// as dt (norm weights stay f32).
func randomModel(t testing.TB, c llama.Config, dt ir.DType, seed uint64) (*ir.Graph, exec.WeightMap) {
	types := func(name string) ir.DType { return dt }
	g, err := llama.Build(c, types)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	w := exec.WeightMap{}
	for _, i := range g.OfKind(ir.KindWeight) {
		tt := &g.Tensors[i]
		v := make([]float32, tt.Shape.Elems())
		for j := range v {
			v[j] = float32(r.NormFloat64() * 0.1)
			if len(tt.Shape) == 1 {
				v[j] += 1
			}
		}
		w[tt.Name] = encode(t, tt.DType, tt.Shape, v)
	}
	return g, w
}

func encode(t testing.TB, dt ir.DType, s ir.Shape, v []float32) *ir.Frame {
	n, _ := dt.Bytes(int64(len(v)))
	b := make([]byte, n)
	switch dt {
	case ir.F32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
	case ir.F16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], kernels.F32ToF16(x))
		}
	case ir.Q8_0:
		if err := kernels.QuantizeQ8_0(b, v); err != nil {
			t.Fatal(err)
		}
	case ir.Q4_0:
		if err := kernels.QuantizeQ4_0(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return &ir.Frame{DType: dt, Shape: s.Clone(), Data: b}
}

func step(t testing.TB, s *exec.Session, toks []int32, pos int) exec.Tensor {
	p := make([]int32, len(toks))
	for i := range p {
		p[i] = int32(pos + i)
	}
	out, err := s.Run(map[string]exec.Tensor{"tokens": exec.I32s(toks...), "pos": exec.I32s(p...)})
	if err != nil {
		t.Fatal(err)
	}
	return out["logits"]
}

func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

var prompt = []int32{1, 17, 42, 99, 3, 5, 8, 13, 21, 34, 55}

// TestPrefillEqualsDecode: a batched prefill of n tokens gives, row for row,
// the same bits as n single decode steps.
func TestPrefillEqualsDecode(t *testing.T) {
	for _, dt := range []ir.DType{ir.F32, ir.F16, ir.Q8_0, ir.Q4_0} {
		g, w := randomModel(t, tiny, dt, 1)
		p, err := exec.New(g, w, exec.Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		batch := step(t, p.NewSession(), prompt, 0)
		single := p.NewSession()
		for i, tok := range prompt {
			row := step(t, single, []int32{tok}, i)
			if j := sameBits(row.Row(0), batch.Row(i)); j >= 0 {
				t.Fatalf("%v: token %d: decode and prefill differ at logit %d: %v vs %v", dt, i, j, row.Row(0)[j], batch.Row(i)[j])
			}
		}
		// A prefill split in two chunks equals the single prefill too.
		chunked := p.NewSession()
		step(t, chunked, prompt[:4], 0)
		rest := step(t, chunked, prompt[4:], 4)
		for i := range prompt[4:] {
			if j := sameBits(rest.Row(i), batch.Row(4+i)); j >= 0 {
				t.Fatalf("%v: chunked prefill differs at row %d", dt, 4+i)
			}
		}
		p.Close()
	}
}

// TestThreadsAndKernelsAgree: 1, 2 and 8 threads and the reference kernels
// give identical bits.
func TestThreadsAndKernelsAgree(t *testing.T) {
	for _, dt := range []ir.DType{ir.F32, ir.F16, ir.BF16, ir.Q8_0, ir.Q4_0} {
		g, w := randomModel(t, tiny, dt, 2)
		var want []float32
		for _, o := range []exec.Options{{Reference: true}, {Threads: 1}, {Threads: 2}, {Threads: 8}} {
			p, err := exec.New(g, w, o)
			if err != nil {
				t.Fatal(err)
			}
			got := step(t, p.NewSession(), prompt, 0).F32
			p.Close()
			if want == nil {
				want = got
				continue
			}
			if j := sameBits(got, want); j >= 0 {
				t.Fatalf("%v %+v: differs from reference at %d", dt, o, j)
			}
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	g, w := randomModel(t, tiny, ir.F32, 3)
	p, err := exec.New(g, w, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := p.NewSession()
	cases := map[string]map[string]exec.Tensor{
		"missing pos":    {"tokens": exec.I32s(1)},
		"rows differ":    {"tokens": exec.I32s(1, 2), "pos": exec.I32s(0)},
		"unknown input":  {"tokens": exec.I32s(1), "pos": exec.I32s(0), "x": exec.I32s(0)},
		"token range":    {"tokens": exec.I32s(100), "pos": exec.I32s(0)},
		"position range": {"tokens": exec.I32s(1), "pos": exec.I32s(64)},
		"wrong dtype":    {"tokens": {DType: ir.F32, Shape: ir.Shape{1}, F32: []float32{1}}, "pos": exec.I32s(0)},
	}
	for name, in := range cases {
		if _, err := s.Run(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	delete(w, "blk.0.attn_q.weight")
	if _, err := exec.New(g, w, exec.Options{}); err == nil {
		t.Error("missing weight accepted")
	}
}

func BenchmarkTinyDecode(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			g, w := randomModel(b, tiny, ir.F32, 4)
			p, _ := exec.New(g, w, exec.Options{Threads: th})
			defer p.Close()
			s := p.NewSession()
			for i := 0; b.Loop(); i++ {
				step(b, s, []int32{int32(i % 100)}, i%64)
			}
		})
	}
}

// TestPacking: the fast kernels read every F32/F16/Q8_0 MatMul weight
// packed (7 per layer and the output head), and the reference kernels
// nothing packed; the results agree (see above).
func TestPacking(t *testing.T) {
	f := kernels.Fast(1)
	simd := f.SIMD()
	f.Close()
	for _, c := range []struct {
		dt   ir.DType
		opts exec.Options
		want int
	}{
		{ir.F32, exec.Options{Threads: 2}, 7*tiny.Layers + 1},
		{ir.F16, exec.Options{Threads: 1}, 7*tiny.Layers + 1},
		{ir.Q8_0, exec.Options{Threads: 2}, 7*tiny.Layers + 1},
		{ir.F32, exec.Options{Reference: true}, 0},
	} {
		g, w := randomModel(t, tiny, c.dt, 3)
		p, err := exec.New(g, w, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		want := c.want
		if !simd { // only the assembly kernels read packed weights
			want = 0
		}
		if got := exec.PackedWeights(p); got != want {
			t.Errorf("%v %+v: %d weights packed, want %d", c.dt, c.opts, got, want)
		}
		p.Close()
	}
}
