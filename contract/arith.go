package contract

import "math/bits"

// add returns a+b and whether it did not overflow.
func add(a, b uint64) (uint64, bool) {
	s, c := bits.Add64(a, b, 0)
	return s, c == 0
}

// sub returns a-b and whether a ≥ b.
func sub(a, b uint64) (uint64, bool) {
	d, c := bits.Sub64(a, b, 0)
	return d, c == 0
}

// mul returns a×b and whether it did not overflow.
func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// mulDiv returns floor(a×b/d) with a 128-bit intermediate, and whether the
// quotient fits in uint64 (d must be > 0).
func mulDiv(a, b, d uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, d)
	return q, true
}

// mulDivUp is mulDiv rounded up.
func mulDivUp(a, b, d uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, d)
	if r != 0 {
		return add(q, 1)
	}
	return q, true
}
