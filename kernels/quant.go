package kernels

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/splitup/splitup/ir"
)

// F16ToF32 converts the IEEE-754 binary16 value with bits h to float32.
// The conversion is exact; NaN payloads are kept.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// F32ToF16 converts f to IEEE-754 binary16 bits, rounding to nearest even.
// Values too large become ±Inf, values too small become subnormals or ±0,
// and NaN stays NaN (quiet, with the top payload bits kept).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		full := mant | 0x800000
		return sign | uint16(roundShift(full, uint32(14-e)))
	}
	// Adding the rounded mantissa may carry into the exponent, and from the
	// largest finite value into Inf; both are the right results.
	return sign | (uint16(e)<<10 + uint16(roundShift(mant, 13)))
}

// roundShift returns v >> s rounded to nearest, ties to even (1 <= s < 32).
func roundShift(v, s uint32) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// BF16ToF32 converts the bfloat16 value with bits h to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts f to bfloat16 bits, rounding to nearest even. NaN stays
// NaN (quiet).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// roundHalfAway rounds v to the nearest integer, halfway cases away from
// zero (C roundf). It is total and the same on every architecture: NaN
// gives 0 and values beyond ±2^30 saturate there. float64(v) ± 0.5 is exact
// for |v| < 2^30, so truncating it rounds v correctly.
func roundHalfAway(v float32) int32 {
	switch {
	case v != v:
		return 0
	case v >= 1<<30:
		return 1 << 30
	case v <= -(1 << 30):
		return -(1 << 30)
	}
	return int32(float64(v) + math.Copysign(0.5, float64(v)))
}

// checkBlocks validates the sizes of a block-quantised buffer of n elements.
func checkBlocks(dt ir.DType, n, nbytes int) error {
	if n%ir.QBlock != 0 {
		return fmt.Errorf("kernels: %v needs a multiple of %d elements, got %d: %w", dt, ir.QBlock, n, ir.ErrShape)
	}
	if want := n / ir.QBlock * dt.BlockBytes(); nbytes != want {
		return fmt.Errorf("kernels: %d elements of %v take %d bytes, buffer has %d: %w", n, dt, want, nbytes, ir.ErrShape)
	}
	return nil
}

// QuantizeQ8_0 writes src as GGUF Q8_0 blocks into dst, exactly as ggml's
// reference quantiser does: per block of 32, amax = max |x|, d = amax/127
// (stored as f16), id = 1/d (0 when d = 0), q = roundf(x*id). All arithmetic
// is float32. len(src) must be a multiple of 32 and len(dst) the matching
// byte count. A NaN element quantises to 0.
func QuantizeQ8_0(dst []byte, src []float32) error {
	if err := checkBlocks(ir.Q8_0, len(src), len(dst)); err != nil {
		return err
	}
	for b := 0; b < len(src)/ir.QBlock; b++ {
		x := src[b*ir.QBlock : (b+1)*ir.QBlock]
		out := dst[b*(2+ir.QBlock) : (b+1)*(2+ir.QBlock)]
		var amax float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, F32ToF16(d))
		for j, v := range x {
			out[2+j] = byte(int8(clamp32(roundHalfAway(v*id), -128, 127)))
		}
	}
	return nil
}

// QuantizeQ4_0 writes src as GGUF Q4_0 blocks into dst, exactly as ggml's
// reference quantiser does: per block of 32, max = the element of largest
// magnitude (signed, first one on ties), d = max / -8 (stored as f16),
// id = 1/d (0 when d = 0), q = min(15, trunc(x*id + 8.5)); byte j holds
// element j in its low nibble and element j+16 in its high nibble. All
// arithmetic is float32. A NaN element quantises to 8 (zero).
func QuantizeQ4_0(dst []byte, src []float32) error {
	if err := checkBlocks(ir.Q4_0, len(src), len(dst)); err != nil {
		return err
	}
	const half = ir.QBlock / 2
	for b := 0; b < len(src)/ir.QBlock; b++ {
		x := src[b*ir.QBlock : (b+1)*ir.QBlock]
		out := dst[b*(2+half) : (b+1)*(2+half)]
		var amax, max float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, F32ToF16(d))
		for j := 0; j < half; j++ {
			lo := q4nibble(float32(x[j] * id))
			hi := q4nibble(float32(x[j+half] * id))
			out[2+j] = lo | hi<<4
		}
	}
	return nil
}

// q4nibble is ggml's MIN(15, (int8_t)(v + 8.5f)), made total: NaN gives 8
// and the result is clamped to [0, 15].
func q4nibble(v float32) byte {
	if v != v {
		return 8
	}
	t := v + 8.5
	if t < 0 {
		return 0
	}
	if t >= 15 {
		return 15
	}
	return byte(int32(t))
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func clamp32(v, lo, hi int32) int32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Dequantize converts the elements stored in src with type dt to float32
// into dst. dt must be F32, F16, BF16, Q8_0 or Q4_0, and src must hold
// exactly len(dst) elements. Quantised elements are float32(d * q) with d the
// block's f16 scale converted to f32 (q = nibble-8 for Q4_0).
func Dequantize(dst []float32, src []byte, dt ir.DType) error {
	if !dt.Float() {
		return fmt.Errorf("kernels: cannot dequantize %v: %w", dt, ir.ErrDType)
	}
	if dt.Quantized() {
		if err := checkBlocks(dt, len(dst), len(src)); err != nil {
			return err
		}
	} else if want := len(dst) * dt.BlockBytes(); len(src) != want {
		return fmt.Errorf("kernels: %d elements of %v take %d bytes, buffer has %d: %w", len(dst), dt, want, len(src), ir.ErrShape)
	}
	dequantRow(dst, src, dt)
	return nil
}

// dequantRow is Dequantize without the checks.
func dequantRow(dst []float32, src []byte, dt ir.DType) {
	switch dt {
	case ir.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case ir.F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case ir.BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case ir.Q8_0:
		for b := 0; b < len(dst)/ir.QBlock; b++ {
			blk := src[b*(2+ir.QBlock):]
			d := F16ToF32(binary.LittleEndian.Uint16(blk))
			for j := 0; j < ir.QBlock; j++ {
				dst[b*ir.QBlock+j] = d * float32(int8(blk[2+j]))
			}
		}
	case ir.Q4_0:
		const half = ir.QBlock / 2
		for b := 0; b < len(dst)/ir.QBlock; b++ {
			blk := src[b*(2+half):]
			d := F16ToF32(binary.LittleEndian.Uint16(blk))
			o := dst[b*ir.QBlock : (b+1)*ir.QBlock]
			for j := 0; j < half; j++ {
				o[j] = d * float32(int32(blk[2+j]&0xf)-8)
				o[j+half] = d * float32(int32(blk[2+j]>>4)-8)
			}
		}
	}
}
