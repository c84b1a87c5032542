package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run ./internal/asmgen -o simd_amd64.s

// haveSIMD reports whether the AVX2 block kernels can run: they need AVX2
// and F16C (half-precision conversion), which x/sys/cpu does not report.
var haveSIMD = cpu.X86.HasAVX2 && cpuidECX1()&(1<<29) != 0

// cpuidECX1 returns ECX of CPUID leaf 1.
func cpuidECX1() uint32

// The block kernels below compute, for 4 weight rows (pointers in p), the
// 8 lane sums of the canonical dot product with x over the first n8*8
// elements (or all nb blocks), in exactly the order of goDot4 / goQDot4.

//go:noescape
func f32Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)

//go:noescape
func f16Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)

//go:noescape
func bf16Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)

// The Rows kernels compute finished dot products (the lane sums combined
// by tree8) for nq quads of consecutive rows, the first at w, stride bytes
// apart, writing out[0:4*nq]. The Rows2 kernels do so for two activation
// rows at once, so each weight load serves two tokens.

//go:noescape
func f32Rows(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func f16Rows(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func bf16Rows(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func f32Rows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32)

//go:noescape
func f16Rows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32)

//go:noescape
func bf16Rows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32)

//go:noescape
func q8Rows(w unsafe.Pointer, stride int, qx *int8, dx *float32, nb, nq int, out *float32)

//go:noescape
func q8Rows2(w unsafe.Pointer, stride int, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32)

//go:noescape
func q4Rows2(w unsafe.Pointer, stride int, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32)

//go:noescape
func q4Rows(w unsafe.Pointer, stride int, qx *int8, dx *float32, nb, nq int, out *float32)

//go:noescape
func q8Dot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32)

//go:noescape
func q4Dot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32)

// quantQ8AVX quantises up to nb blocks of x exactly as QuantizeRowQ8 and
// returns how many it did; it stops at a block with a NaN or a non-finite
// amax or 1/dx, which the caller quantises with QuantizeRowQ8.
//
//go:noescape
func quantQ8AVX(x *float32, qx *int8, dx *float32, nb int) int

// axpyAVX adds float32(a*v[i]) to o[i] for i < n&^7.
//
//go:noescape
func axpyAVX(o, v *float32, n int, a float32)

// axpy adds float32(a*v[d]) to o[d] for every d.
func axpy(simd bool, o, v []float32, a float32) {
	v = v[:len(o)]
	n := 0
	if simd && len(o) >= 8 {
		n = len(o) &^ 7
		axpyAVX(&o[0], &v[0], n, a)
	}
	axpyGo(o[n:], v[n:], a)
}
