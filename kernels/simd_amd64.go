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

// The RowsNQ kernels are the Rows kernels prefetching the next quad of rows
// instead of each row stream ahead; they suit short rows.

//go:noescape
func f32RowsNQ(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func f16RowsNQ(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func bf16RowsNQ(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

// The RowsW kernels are the Rows kernels whose per-row prefetch runs on
// into the next quad near the end of the rows.
//
//go:noescape
func f32RowsW(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func f16RowsW(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

//go:noescape
func bf16RowsW(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)

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

// expSubAVX sets dst[i] = exp32(src[i]-m) and adds it to lanes[i%8] for
// i < n (a multiple of 8), stopping before the first vector of 8 with a
// lane outside exp32's main path; it returns how many elements it did.
//
//go:noescape
func expSubAVX(dst, src *float32, n int, m float32, lanes *[8]float32) int

// swigluAVX sets out[i] = float32(silu32(gate[i]) * up[i]) for i < n (a
// multiple of 8), stopping before the first vector of 8 with a lane whose
// exp32(-gate[i]) leaves exp32's main path; it returns how many elements it did.
//
//go:noescape
func swigluAVX(out, gate, up *float32, n int) int

// wsum8AVX, wsum32AVX and wsum64AVX set o[c], for 8, 32 or 64 columns c,
// to the sum over j < n, in increasing j from +0, of float32(a[j]*v_j[c]),
// the value rows stride bytes apart.
//
//go:noescape
func wsum8AVX(o, a, v *float32, stride, n int)

//go:noescape
func wsum32AVX(o, a, v *float32, stride, n int)

//go:noescape
func wsum64AVX(o, a, v *float32, stride, n int)

// The RowsP kernels are the Rows kernels on the packed layout of [Pack]:
// nq packed quads from w, no stride. RowsP2 take two activation rows.

//go:noescape
func f32RowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32)

//go:noescape
func f16RowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32)

//go:noescape
func bf16RowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32)

//go:noescape
func f32RowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32)

//go:noescape
func f16RowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32)

//go:noescape
func bf16RowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32)

// q8RowsP and q8RowsP2 are q8Rows and q8Rows2 on the packed layout: nq
// packed quads from w, no stride.

//go:noescape
func q8RowsP(w unsafe.Pointer, qx *int8, dx *float32, nb, nq int, out *float32)

//go:noescape
func q8RowsP2(w unsafe.Pointer, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32)
