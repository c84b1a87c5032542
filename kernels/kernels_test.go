package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/splitup/splitup/ir"
)

// variant is one implementation under test.
type variant struct {
	name string
	k    Kernels
}

// fastVariants returns Fast at 1, 2 and 8 threads, with and without the
// assembly kernels.
func fastVariants(t testing.TB) []variant {
	var vs []variant
	for _, simd := range []bool{true, false} {
		if simd && !haveSIMD {
			continue
		}
		for _, th := range []int{1, 2, 8} {
			f := Fast(th)
			f.simd = simd
			t.Cleanup(func() { f.Close() })
			vs = append(vs, variant{fmt.Sprintf("fast/threads=%d/simd=%v", th, simd), f})
		}
	}
	return vs
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// encodeWeights stores src as dt.
func encodeWeights(t testing.TB, src []float32, dt ir.DType) []byte {
	nb, err := dt.Bytes(int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, nb)
	switch dt {
	case ir.F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case ir.F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(b[2*i:], F32ToF16(v))
		}
	case ir.BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(b[2*i:], F32ToBF16(v))
		}
	case ir.Q8_0:
		err = QuantizeQ8_0(b, src)
	case ir.Q4_0:
		err = QuantizeQ4_0(b, src)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameBits reports the first index where a and b differ in bits; two NaNs
// compare equal (payloads are not part of the contract).
func sameBits(a, b []float32) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i, false
		}
	}
	return 0, true
}

func requireSame(t *testing.T, what string, want, got []float32) {
	t.Helper()
	if i, ok := sameBits(want, got); !ok {
		if i < 0 {
			t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
		}
		t.Fatalf("%s: element %d = %v (%#08x), reference %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
	}
}

var allWeightTypes = []ir.DType{ir.F32, ir.F16, ir.BF16, ir.Q8_0, ir.Q4_0}

func TestMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	ref := Reference()
	vs := fastVariants(t)
	for _, dt := range allWeightTypes {
		colsList := []int{0, 1, 7, 8, 9, 31, 64, 100, 300}
		if dt.Quantized() {
			colsList = []int{32, 64, 96, 320}
		}
		rowsList := []int{1, 3, 4, 5, 17, 33, 130}
		if testing.Short() {
			rowsList = []int{3, 17}
		}
		for _, rows := range rowsList {
			for _, cols := range colsList {
				for _, n := range []int{1, 2, 3, 17} {
					w := encodeWeights(t, randVec(r, rows*cols), dt)
					if dt == ir.Q8_0 && r.Intn(2) == 0 {
						// Arbitrary quants, including -128, which ggml never writes.
						for b := 0; b < len(w); b += 34 {
							r.Read(w[b+2 : b+34])
						}
					}
					x := randVec(r, n*cols)
					want := make([]float32, n*rows)
					ref.MatMul(want, x, n, w, dt, rows, cols)
					for _, v := range vs {
						got := make([]float32, n*rows)
						v.k.MatMul(got, x, n, w, dt, rows, cols)
						requireSame(t, fmt.Sprintf("%s %v rows=%d cols=%d n=%d", v.name, dt, rows, cols, n), want, got)
					}
				}
			}
		}
	}
}

func TestMatMulLarge(t *testing.T) {
	// Big enough for the thread pool and for several row chunks.
	r := rand.New(rand.NewSource(4))
	rows, cols, n := 260, 1024, 5
	ref := Reference()
	vs := fastVariants(t)
	for _, dt := range allWeightTypes {
		w := encodeWeights(t, randVec(r, rows*cols), dt)
		x := randVec(r, n*cols)
		want := make([]float32, n*rows)
		ref.MatMul(want, x, n, w, dt, rows, cols)
		for _, v := range vs {
			got := make([]float32, n*rows)
			v.k.MatMul(got, x, n, w, dt, rows, cols)
			requireSame(t, v.name+" "+dt.String(), want, got)
		}
	}
}

// TestMatMulsMatchesMatMul: one MatMuls call over several weight matrices
// gives each output the bits of its own reference MatMul.
func TestMatMulsMatchesMatMul(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	ks := append(fastVariants(t), variant{"reference", Reference()})
	const cols = 256
	partSets := [][]ir.DType{
		{ir.F32, ir.F32, ir.F32},
		{ir.Q8_0, ir.Q8_0},
		{ir.F16, ir.Q4_0, ir.BF16, ir.Q8_0, ir.F32, ir.F32},
	}
	rowsOf := []int{300, 0, 37, 5, 130, 64}
	for _, dts := range partSets {
		for _, n := range []int{1, 3} {
			x := randVec(r, n*cols)
			var parts []MatMulPart
			var wants [][]float32
			for i, dt := range dts {
				rows := rowsOf[i]
				w := encodeWeights(t, randVec(r, rows*cols), dt)
				want := make([]float32, n*rows)
				Reference().MatMul(want, x, n, w, dt, rows, cols)
				wants = append(wants, want)
				parts = append(parts, MatMulPart{W: w, DType: dt, Rows: rows})
			}
			for _, v := range ks {
				for i := range parts {
					parts[i].Out = make([]float32, n*parts[i].Rows)
				}
				v.k.(interface {
					MatMuls(x []float32, n, cols int, parts []MatMulPart)
				}).MatMuls(x, n, cols, parts)
				for i := range parts {
					requireSame(t, fmt.Sprintf("%s %v n=%d part %d", v.name, dts, n, i), wants[i], parts[i].Out)
				}
			}
		}
	}
}

func TestMatMulBatchInvariance(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	rows, cols, n := 37, 96, 17
	ks := append(fastVariants(t), variant{"reference", Reference()})
	for _, dt := range allWeightTypes {
		w := encodeWeights(t, randVec(r, rows*cols), dt)
		x := randVec(r, n*cols)
		for _, v := range ks {
			batch := make([]float32, n*rows)
			v.k.MatMul(batch, x, n, w, dt, rows, cols)
			for tk := 0; tk < n; tk++ {
				one := make([]float32, rows)
				v.k.MatMul(one, x[tk*cols:(tk+1)*cols], 1, w, dt, rows, cols)
				requireSame(t, fmt.Sprintf("%s %v token %d", v.name, dt, tk), one, batch[tk*rows:(tk+1)*rows])
			}
		}
	}
}

func TestMatMulSpecialValues(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	ks := append(fastVariants(t), variant{"reference", Reference()})
	rows, cols := 5, 64
	for _, dt := range allWeightTypes {
		w := encodeWeights(t, randVec(rand.New(rand.NewSource(6)), rows*cols), dt)
		for _, special := range []float32{nan, inf} {
			x := make([]float32, cols)
			for i := range x {
				x[i] = 1
			}
			x[40] = special
			for _, v := range ks {
				out := make([]float32, rows)
				v.k.MatMul(out, x, 1, w, dt, rows, cols)
				for i, o := range out {
					if !math.IsNaN(float64(o)) && !math.IsInf(float64(o), 0) {
						t.Errorf("%s %v x has %v: out[%d] = %v, want NaN or Inf", v.name, dt, special, i, o)
					}
				}
			}
		}
		// All-zero weights and activations give +0.
		zw := make([]byte, len(w))
		for _, v := range ks {
			out := make([]float32, rows)
			v.k.MatMul(out, make([]float32, cols), 1, zw, dt, rows, cols)
			for i, o := range out {
				if math.Float32bits(o) != 0 {
					t.Errorf("%s %v zeros: out[%d] = %v", v.name, dt, i, o)
				}
			}
		}
	}
}

// TestDotOrder pins the canonical order down on values where it matters.
func TestDotOrder(t *testing.T) {
	a := []float32{1e8, 1, 1, 1, 1, 1, 1, 1, -1e8, 1, 1}
	b := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	// lane0: 1e8 + -1e8 = 0; lanes 1..2: 2; lanes 3..7: 1; total 2+2+5 = 9.
	if got := dotF32(a, b); got != 9 {
		t.Fatalf("dotF32 = %v, want 9", got)
	}
}

func opsInput(r *rand.Rand, n int) []float32 {
	x := randVec(r, n)
	for i := range x {
		x[i] *= 4
	}
	return x
}

func TestOpsMatchReference(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	ref := Reference()
	vs := fastVariants(t)
	for _, shape := range [][2]int{{1, 1}, {3, 7}, {17, 64}, {40, 1000}, {200, 1024}} {
		n, d := shape[0], shape[1]
		x := opsInput(r, n*d)
		x[0] = float32(math.NaN())
		if len(x) > 5 {
			x[5] = float32(math.Inf(-1))
			x[3] = 100
			x[4] = -100
		}
		y := opsInput(r, n*d)
		w := opsInput(r, d)
		check := func(name string, f func(k Kernels, out []float32)) {
			want := make([]float32, n*d)
			f(ref, want)
			for _, v := range vs {
				got := make([]float32, n*d)
				f(v.k, got)
				requireSame(t, fmt.Sprintf("%s %s n=%d d=%d", name, v.name, n, d), want, got)
			}
		}
		check("RMSNorm", func(k Kernels, o []float32) { k.RMSNorm(o, y, n, d, w, 1e-5) })
		check("Softmax", func(k Kernels, o []float32) { k.Softmax(o, y, n, d) })
		check("SoftmaxNaN", func(k Kernels, o []float32) { k.Softmax(o, x, n, d) })
		check("SiLU", func(k Kernels, o []float32) { k.SiLU(o, x) })
		check("SwiGLU", func(k Kernels, o []float32) { k.SwiGLU(o, x, y) })
		check("Relu", func(k Kernels, o []float32) { k.Relu(o, x) })
		check("Add", func(k Kernels, o []float32) { k.Add(o, x, y) })
		check("AddBias", func(k Kernels, o []float32) { k.Add(o, x, w) })
		check("Mul", func(k Kernels, o []float32) { k.Mul(o, x, y) })
		check("MulBias", func(k Kernels, o []float32) { k.Mul(o, x, w) })
		if d%2 == 0 {
			pos := make([]int32, n)
			for i := range pos {
				pos[i] = int32(r.Intn(3000))
			}
			check("RoPE", func(k Kernels, o []float32) { k.RoPE(o, y, n, d, pos, 2, 10000) })
			if d%4 == 0 {
				check("RoPE4", func(k Kernels, o []float32) { k.RoPE(o, y, n, d, pos, 4, 500000) })
			}
		}
	}
}

func TestOpsValues(t *testing.T) {
	ref := Reference()
	out := make([]float32, 4)
	ref.Softmax(out, []float32{1, 1, 1, 1}, 1, 4)
	for _, o := range out {
		if o != 0.25 {
			t.Fatalf("softmax of equal values = %v", out)
		}
	}
	ref.Add(out, []float32{1, 2, 3, 4}, []float32{10, 20})
	if out[0] != 11 || out[1] != 22 || out[2] != 13 || out[3] != 24 {
		t.Fatalf("bias add = %v", out)
	}
	ref.RMSNorm(out, []float32{2, 2, 2, 2}, 1, 4, []float32{1, 2, 3, 4}, 0)
	if out[0] != 1 || out[3] != 4 {
		t.Fatalf("rmsnorm = %v", out)
	}
	ref.SiLU(out[:1], []float32{0})
	if out[0] != 0 {
		t.Fatalf("silu(0) = %v", out[0])
	}
	ref.Relu(out, []float32{-1, 0, 2, float32(math.NaN())})
	if out[0] != 0 || out[2] != 2 || out[3] == out[3] {
		t.Fatalf("relu = %v", out)
	}
	// RoPE at position 0 is the identity.
	ref.RoPE(out, []float32{1, 2, 3, 4}, 1, 4, []int32{0}, 4, 10000)
	if out[0] != 1 || out[1] != 2 || out[2] != 3 || out[3] != 4 {
		t.Fatalf("rope pos 0 = %v", out)
	}
}

func TestEmbed(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	rows, d := 10, 64
	ks := append(fastVariants(t), variant{"reference", Reference()})
	for _, dt := range allWeightTypes {
		src := randVec(r, rows*d)
		table := encodeWeights(t, src, dt)
		all := make([]float32, rows*d)
		if err := Dequantize(all, table, dt); err != nil {
			t.Fatal(err)
		}
		ids := []int32{3, 0, 9, 3}
		for _, v := range ks {
			out := make([]float32, len(ids)*d)
			if err := v.k.Embed(out, table, dt, rows, d, ids); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				requireSame(t, v.name+" embed "+dt.String(), all[int(id)*d:int(id+1)*d], out[i*d:(i+1)*d])
			}
			if err := v.k.Embed(out[:d], table, dt, rows, d, []int32{10}); err == nil {
				t.Errorf("%s: id 10 of 10 rows accepted", v.name)
			}
			if err := v.k.Embed(out[:d], table, dt, rows, d, []int32{-1}); err == nil {
				t.Errorf("%s: id -1 accepted", v.name)
			}
		}
	}
}

func TestFastCloseAndConcurrency(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	rows, cols := 300, 256
	w := encodeWeights(t, randVec(r, rows*cols), ir.Q8_0)
	x := randVec(r, 3*cols)
	want := make([]float32, 3*rows)
	Reference().MatMul(want, x, 3, w, ir.Q8_0, rows, cols)
	f := Fast(3)
	done := make(chan []float32)
	for g := 0; g < 4; g++ {
		go func() {
			out := make([]float32, 3*rows)
			for i := 0; i < 20; i++ {
				f.MatMul(out, x, 3, w, ir.Q8_0, rows, cols)
			}
			done <- out
		}()
	}
	for g := 0; g < 4; g++ {
		requireSame(t, "concurrent", want, <-done)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close() // a second Close is harmless
	got := make([]float32, 3*rows)
	f.MatMul(got, x, 3, w, ir.Q8_0, rows, cols)
	requireSame(t, "after Close", want, got)
	if f.Threads() != 3 {
		t.Errorf("Threads() = %d", f.Threads())
	}
}

func TestShapePanics(t *testing.T) {
	ks := append(fastVariants(t), variant{"reference", Reference()})
	for _, v := range ks {
		for name, fn := range map[string]func(){
			"matmul out": func() { v.k.MatMul(make([]float32, 3), make([]float32, 4), 1, make([]byte, 32), ir.F32, 2, 4) },
			"matmul q8 cols": func() {
				v.k.MatMul(make([]float32, 1), make([]float32, 16), 1, make([]byte, 17), ir.Q8_0, 1, 16)
			},
			"matmuls packed q4": func() {
				v.k.(interface {
					MatMuls(x []float32, n, cols int, parts []MatMulPart)
				}).MatMuls(make([]float32, 32), 1, 32, []MatMulPart{{Out: make([]float32, 4), W: make([]byte, 4*18), DType: ir.Q4_0, Rows: 4, Packed: true}})
			},
			"add broadcast": func() { v.k.Add(make([]float32, 4), make([]float32, 4), make([]float32, 3)) },
			"rope odd head": func() { v.k.RoPE(make([]float32, 3), make([]float32, 3), 1, 3, []int32{0}, 3, 1e4) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: %s did not panic", v.name, name)
					}
				}()
				fn()
			}()
		}
	}
}

// FuzzMatMul feeds arbitrary weight bytes (any f16 scales, including Inf
// and NaN, any quants) and activations to Fast (row-major and packed) and
// Reference.
func FuzzMatMul(f *testing.F) {
	f.Add(uint8(0), uint8(3), uint8(1), uint8(2), make([]byte, 64))
	f.Add(uint8(3), uint8(5), uint8(2), uint8(3), []byte{0x00, 0x7c, 0x80, 0x7f, 0xff, 0x01})
	fk := Fast(2)
	f.Cleanup(func() { fk.Close() })
	slow := Fast(2)
	slow.simd = false
	f.Cleanup(func() { slow.Close() })
	f.Fuzz(func(t *testing.T, dsel, rows8, cols8, n8 uint8, data []byte) {
		dt := allWeightTypes[int(dsel)%len(allWeightTypes)]
		rows, n := 1+int(rows8)%9, 1+int(n8)%4
		cols := 1 + int(cols8)%40
		if dt.Quantized() {
			cols = 32 * (1 + int(cols8)%3)
		}
		if len(data) == 0 {
			data = []byte{0}
		}
		wlen := rows * cols / dt.BlockSize() * dt.BlockBytes()
		w := make([]byte, wlen)
		for i := range w {
			w[i] = data[i%len(data)] ^ byte(i*7)
		}
		x := make([]float32, n*cols)
		for i := range x {
			b := data[(i+wlen)%len(data)]
			x[i] = float32(int8(b)) / 16
			if b == 0xff {
				x[i] = float32(math.Inf(1))
			}
		}
		want := make([]float32, n*rows)
		Reference().MatMul(want, x, n, w, dt, rows, cols)
		for _, k := range []*FastKernels{fk, slow} {
			got := make([]float32, n*rows)
			k.MatMul(got, x, n, w, dt, rows, cols)
			requireSame(t, fmt.Sprintf("%v rows=%d cols=%d n=%d simd=%v", dt, rows, cols, n, k.simd), want, got)
			p, packed := k.Prepare(w, dt, rows, cols)
			k.MatMuls(x, n, cols, []MatMulPart{{Out: got, W: p, DType: dt, Rows: rows, Packed: packed}})
			requireSame(t, fmt.Sprintf("prepared %v rows=%d cols=%d n=%d", dt, rows, cols, n), want, got)
		}
	})
}
