package kernels

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/splitup/splitup/ir"
)

func TestF16Known(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xbc00, -1},
		{0x4000, 2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0400, 6.103515625e-05},
		{0x0001, 5.960464477539063e-08},
		{0x03ff, 6.097555160522461e-05},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		if got := F16ToF32(c.h); got != c.f {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", c.h, got, c.f)
		}
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if got := math.Float32bits(F16ToF32(0x8000)); got != 0x80000000 {
		t.Errorf("F16ToF32(-0) bits = %#x", got)
	}
	if !isNaN32(F16ToF32(0x7e00)) || !isNaN32(F16ToF32(0xfc01)) {
		t.Error("f16 NaN did not convert to NaN")
	}
	nan := float32(math.NaN())
	if h := F32ToF16(nan); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("F32ToF16(NaN) = %#04x, not a NaN", h)
	}
	// A NaN whose payload lives only in the low bits must stay NaN.
	if h := F32ToF16(math.Float32frombits(0x7f800001)); h&0x3ff == 0 {
		t.Errorf("F32ToF16(signalling NaN) = %#04x, not a NaN", h)
	}
	roundCases := []struct {
		f float32
		h uint16
	}{
		{65520, 0x7c00},                  // halfway to 2^16 rounds to even: Inf
		{65519.996, 0x7bff},              // just below the halfway point
		{1 + 1.0/2048, 0x3c00},           // tie to even (down)
		{1 + 3.0/2048, 0x3c02},           // tie to even (up)
		{2.9802322387695312e-08, 0x0000}, // 2^-25: tie between 0 and the smallest subnormal
		{2.9802326e-08, 0x0001},          // just above 2^-25
		{8.940696716308594e-08, 0x0002},  // 1.5 * 2^-24: tie to even (up)
		{1e-10, 0},
		{-1e-10, 0x8000},
		{1e10, 0x7c00},
	}
	for _, c := range roundCases {
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
}

func isNaN32(f float32) bool { return f != f }

func TestF16RoundTripAll(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if isNaN32(f) {
			if g := F32ToF16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x round-tripped to %#04x", h, g)
			}
			continue
		}
		if g := F32ToF16(f); g != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, g)
		}
	}
}

// nearestF16 finds the correctly rounded f16 of f by comparing the
// candidates around its truncation, in float64.
func checkF16Rounding(t *testing.T, f float32) {
	t.Helper()
	if isNaN32(f) {
		return
	}
	h := F32ToF16(f)
	got := float64(F16ToF32(h))
	want := float64(f)
	if math.IsInf(got, 0) {
		if math.Abs(want) < 65520 {
			t.Fatalf("F32ToF16(%g) overflowed", f)
		}
		return
	}
	err := math.Abs(got - want)
	for _, n := range []uint16{h - 1, h + 1} {
		if n&0x7c00 == 0x7c00 || (h&0x7fff == 0 && n == h-1) {
			continue
		}
		alt := float64(F16ToF32(n))
		if math.Signbit(alt) != math.Signbit(got) && alt != 0 && got != 0 {
			continue
		}
		e := math.Abs(alt - want)
		if e < err || (e == err && n&1 == 0) {
			t.Fatalf("F32ToF16(%g) = %#04x (%g), but %#04x (%g) is nearer or the even tie", f, h, got, n, alt)
		}
	}
}

func TestF32ToF16Rounding(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		// Exponents around the f16 range, plus exact ties.
		e := r.Intn(50) - 30
		m := r.Float64() + 1
		f := float32(math.Ldexp(m, e))
		if r.Intn(2) == 0 {
			f = -f
		}
		checkF16Rounding(t, f)
		tie := math.Float32frombits(math.Float32bits(f)&^0x1fff | 0x1000)
		checkF16Rounding(t, tie)
	}
}

func TestBF16(t *testing.T) {
	if BF16ToF32(0x3f80) != 1 || F32ToBF16(1) != 0x3f80 {
		t.Error("bf16 1.0")
	}
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		g := F32ToBF16(f)
		if isNaN32(f) {
			if !isNaN32(BF16ToF32(g)) {
				t.Fatalf("bf16 NaN %#04x became %#04x", h, g)
			}
			continue
		}
		if g != uint16(h) {
			t.Fatalf("bf16 round trip %#04x -> %#04x", h, g)
		}
	}
	cases := []struct {
		b uint32
		h uint16
	}{
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // rounds to Inf
		{0x7f800001, 0x7fc0}, // NaN with low payload stays NaN
	}
	for _, c := range cases {
		if got := F32ToBF16(math.Float32frombits(c.b)); got != c.h {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.b, got, c.h)
		}
	}
}

func TestRoundHalfAway(t *testing.T) {
	cases := map[float32]int32{0.5: 1, -0.5: -1, 1.5: 2, 2.5: 3, -2.5: -3, 0.49999997: 0, 126.5: 127, -0: 0, 3: 3}
	for v, want := range cases {
		if got := roundHalfAway(v); got != want {
			t.Errorf("roundHalfAway(%v) = %d, want %d", v, got, want)
		}
	}
}

func TestQuantizeQ8_0Known(t *testing.T) {
	src := make([]float32, 32)
	for i := range src {
		src[i] = float32(i) - 16 // -16..15, amax 16
	}
	dst := make([]byte, 34)
	if err := QuantizeQ8_0(dst, src); err != nil {
		t.Fatal(err)
	}
	d := F16ToF32(binary.LittleEndian.Uint16(dst))
	if want := F16ToF32(F32ToF16(float32(16) / 127)); d != want {
		t.Fatalf("scale %v, want %v", d, want)
	}
	if int8(dst[2]) != -127 || dst[2+16] != 0 || int8(dst[2+31]) != int8(roundHalfAway(15*(127/float32(16)))) {
		t.Fatalf("quants %v", dst[2:])
	}
	back := make([]float32, 32)
	if err := Dequantize(back, dst, ir.Q8_0); err != nil {
		t.Fatal(err)
	}
	for i := range src {
		if math.Abs(float64(back[i]-src[i])) > float64(d)/2+1e-6 {
			t.Errorf("element %d: %v -> %v", i, src[i], back[i])
		}
	}
	// A zero block has scale 0 and all quants 0.
	if err := QuantizeQ8_0(dst, make([]float32, 32)); err != nil {
		t.Fatal(err)
	}
	for i, b := range dst {
		if b != 0 {
			t.Fatalf("zero block byte %d = %d", i, b)
		}
	}
}

func TestQuantizeQ4_0Known(t *testing.T) {
	src := make([]float32, 32)
	for i := range src {
		src[i] = float32(i%16) - 4 // -4..11; max by magnitude = 11
	}
	src[31] = -16 // now the signed max is -16: d = 2
	dst := make([]byte, 18)
	if err := QuantizeQ4_0(dst, src); err != nil {
		t.Fatal(err)
	}
	if d := F16ToF32(binary.LittleEndian.Uint16(dst)); d != 2 {
		t.Fatalf("scale %v, want 2", d)
	}
	back := make([]float32, 32)
	if err := Dequantize(back, dst, ir.Q4_0); err != nil {
		t.Fatal(err)
	}
	for i, v := range src {
		// q = min(15, trunc(v/2 + 8.5)), back = 2*(q-8).
		q := math.Floor(float64(v)/2 + 8.5)
		if q > 15 {
			q = 15
		}
		if want := float32(2 * (q - 8)); back[i] != want {
			t.Errorf("element %d: %v -> %v, want %v", i, v, back[i], want)
		}
	}
	if dst[2]&0xf != byte(math.Floor(-4.0/2+8.5)) || dst[2+15]>>4 != 0 {
		t.Errorf("nibble layout: %x", dst[2:])
	}
}

func TestQuantErrors(t *testing.T) {
	if err := QuantizeQ8_0(make([]byte, 34), make([]float32, 31)); !errors.Is(err, ir.ErrShape) {
		t.Errorf("odd length: %v", err)
	}
	if err := QuantizeQ4_0(make([]byte, 17), make([]float32, 32)); !errors.Is(err, ir.ErrShape) {
		t.Errorf("short dst: %v", err)
	}
	if err := Dequantize(make([]float32, 2), make([]byte, 8), ir.I32); !errors.Is(err, ir.ErrDType) {
		t.Errorf("i32: %v", err)
	}
	if err := Dequantize(make([]float32, 2), make([]byte, 6), ir.F16); !errors.Is(err, ir.ErrShape) {
		t.Errorf("f16 size: %v", err)
	}
}

func TestQuantRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	src := make([]float32, 32*64)
	for i := range src {
		src[i] = float32(r.NormFloat64()) * float32(math.Pow(10, float64(r.Intn(6)-3)))
	}
	for _, dt := range []ir.DType{ir.Q8_0, ir.Q4_0} {
		n, _ := dt.Bytes(int64(len(src)))
		q := make([]byte, n)
		var err error
		if dt == ir.Q8_0 {
			err = QuantizeQ8_0(q, src)
		} else {
			err = QuantizeQ4_0(q, src)
		}
		if err != nil {
			t.Fatal(err)
		}
		back := make([]float32, len(src))
		if err := Dequantize(back, q, dt); err != nil {
			t.Fatal(err)
		}
		// Q8_0 is off by at most half a step; Q4_0 by a whole step at
		// the clamped end opposite the signed maximum.
		tol := 0.51 / 127
		if dt == ir.Q4_0 {
			tol = 1.01 / 8
		}
		for b := 0; b < len(src)/32; b++ {
			var amax float64
			for _, v := range src[b*32 : b*32+32] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			for i := b * 32; i < b*32+32; i++ {
				if e := math.Abs(float64(back[i] - src[i])); e > amax*tol+amax*1e-3 {
					t.Fatalf("%v element %d: %v -> %v (amax %v)", dt, i, src[i], back[i], amax)
				}
			}
		}
		// Quantising the dequantised values reproduces the bytes.
		q2 := make([]byte, n)
		if dt == ir.Q8_0 {
			err = QuantizeQ8_0(q2, back)
		} else {
			err = QuantizeQ4_0(q2, back)
		}
		if err != nil {
			t.Fatal(err)
		}
		back2 := make([]float32, len(src))
		_ = Dequantize(back2, q2, dt)
		for i := range back {
			if math.Abs(float64(back2[i]-back[i])) > math.Abs(float64(back[i]))*2e-3+1e-30 {
				t.Fatalf("%v requantise element %d: %v -> %v", dt, i, back[i], back2[i])
			}
		}
	}
}

func FuzzF16(f *testing.F) {
	f.Add(uint32(0x3f800000))
	f.Add(uint32(0x477fefff))
	f.Add(uint32(0x33000000))
	f.Fuzz(func(t *testing.T, b uint32) {
		v := math.Float32frombits(b)
		checkF16Rounding(t, v)
		h := F32ToF16(v)
		if g := F32ToF16(F16ToF32(h)); g != h && !isNaN32(v) {
			t.Fatalf("%#04x not stable: %#04x", h, g)
		}
		bf := F32ToBF16(v)
		if isNaN32(v) != isNaN32(BF16ToF32(bf)) {
			t.Fatalf("bf16 NaN-ness of %#08x changed", b)
		}
	})
}

func FuzzDequantize(f *testing.F) {
	f.Add([]byte{0x00, 0x3c, 1, 2, 3}, uint8(ir.Q8_0))
	f.Add(make([]byte, 18), uint8(ir.Q4_0))
	f.Add([]byte{0xff, 0x7f, 0, 0}, uint8(ir.F16))
	f.Fuzz(func(t *testing.T, data []byte, d uint8) {
		dt := ir.DType(d)
		if !dt.Valid() || !dt.Float() {
			if err := Dequantize(make([]float32, 1), data, dt); err == nil {
				t.Fatalf("dtype %v accepted", dt)
			}
			return
		}
		n := len(data) / dt.BlockBytes() * dt.BlockSize()
		nb, _ := dt.Bytes(int64(n))
		out := make([]float32, n)
		if err := Dequantize(out, data[:nb], dt); err != nil {
			t.Fatal(err)
		}
		if len(data) != int(nb) {
			if err := Dequantize(out, data, dt); err == nil {
				t.Fatal("ragged buffer accepted")
			}
		}
		if !dt.Quantized() {
			return
		}
		// Every dequantised block re-quantises to values within one step.
		q := make([]byte, nb)
		var err error
		if dt == ir.Q8_0 {
			err = QuantizeQ8_0(q, out)
		} else {
			err = QuantizeQ4_0(q, out)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
}

// quantRowInputs returns activation rows that exercise the edge cases of
// QuantizeRowQ8: ties at .5, zero blocks, NaN, ±Inf and subnormal blocks.
func quantRowInputs(r *rand.Rand, nb int) []float32 {
	x := make([]float32, nb*ir.QBlock)
	for b := 0; b < nb; b++ {
		blk := x[b*ir.QBlock : (b+1)*ir.QBlock]
		switch b % 7 {
		case 0: // zeros, with a negative zero
			blk[3] = float32(math.Copysign(0, -1))
		case 1: // exact halves: amax 127 makes id 1
			for j := range blk {
				blk[j] = float32(r.Intn(254)-127) + 0.5
			}
			blk[0] = 127
		case 2:
			blk[r.Intn(32)] = float32(math.NaN())
		case 3:
			blk[r.Intn(32)] = float32(math.Inf(1 - 2*r.Intn(2)))
		case 4: // subnormal amax: 1/dx overflows
			for j := range blk {
				blk[j] = math.Float32frombits(uint32(r.Intn(1 << 20)))
			}
		default:
			scale := float32(math.Pow(10, float64(r.Intn(12)-6)))
			for j := range blk {
				blk[j] = float32(r.NormFloat64()) * scale
			}
		}
	}
	return x
}

func TestQuantizeRowQ8SIMD(t *testing.T) {
	if !haveSIMD {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(13))
	for iter := 0; iter < 200; iter++ {
		nb := 1 + r.Intn(20)
		x := quantRowInputs(r, nb)
		r.Shuffle(nb, func(i, j int) {
			for k := 0; k < ir.QBlock; k++ {
				x[i*32+k], x[j*32+k] = x[j*32+k], x[i*32+k]
			}
		})
		wq, wd := make([]int8, len(x)), make([]float32, nb)
		gq, gd := make([]int8, len(x)), make([]float32, nb)
		QuantizeRowQ8(wq, wd, x)
		quantizeRowQ8(true, gq, gd, x)
		for i := range wq {
			if wq[i] != gq[i] {
				t.Fatalf("element %d (x=%v): q %d, want %d", i, x[i], gq[i], wq[i])
			}
		}
		for b := range wd {
			if math.Float32bits(wd[b]) != math.Float32bits(gd[b]) {
				t.Fatalf("block %d: dx %v, want %v", b, gd[b], wd[b])
			}
		}
	}
}

func FuzzQuantizeRowQ8(f *testing.F) {
	f.Add(make([]byte, 128))
	f.Fuzz(func(t *testing.T, data []byte) {
		nb := len(data) / 128
		if nb == 0 {
			return
		}
		x := make([]float32, nb*32)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		wq, wd := make([]int8, len(x)), make([]float32, nb)
		gq, gd := make([]int8, len(x)), make([]float32, nb)
		QuantizeRowQ8(wq, wd, x)
		quantizeRowQ8(haveSIMD, gq, gd, x)
		for i := range wq {
			if wq[i] != gq[i] {
				t.Fatalf("element %d (x=%v): q %d, want %d", i, x[i], gq[i], wq[i])
			}
		}
		for b := range wd {
			if math.Float32bits(wd[b]) != math.Float32bits(gd[b]) && !(wd[b] != wd[b] && gd[b] != gd[b]) {
				t.Fatalf("block %d: dx %v, want %v", b, gd[b], wd[b])
			}
		}
	})
}
