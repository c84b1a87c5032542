//go:build !amd64

package kernels

import "unsafe"

// haveSIMD reports whether the assembly kernels can run; there are none
// for this architecture.
const haveSIMD = false

func f32Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)  { panic("no SIMD") }
func f16Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)  { panic("no SIMD") }
func bf16Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32) { panic("no SIMD") }
func f32Rows(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func f16Rows(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func bf16Rows(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func f32RowsW(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func f16RowsW(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func bf16RowsW(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func f32RowsNQ(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func f16RowsNQ(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func bf16RowsNQ(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32) {
	panic("no SIMD")
}
func f32Rows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func f16Rows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func bf16Rows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func q8Rows(w unsafe.Pointer, stride int, qx *int8, dx *float32, nb, nq int, out *float32) {
	panic("no SIMD")
}
func q8Rows2(w unsafe.Pointer, stride int, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func q4Rows2(w unsafe.Pointer, stride int, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func q4Rows(w unsafe.Pointer, stride int, qx *int8, dx *float32, nb, nq int, out *float32) {
	panic("no SIMD")
}
func q8Dot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32) {
	panic("no SIMD")
}
func q4Dot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32) {
	panic("no SIMD")
}

func quantQ8AVX(x *float32, qx *int8, dx *float32, nb int) int { panic("no SIMD") }

func expSubAVX(dst, src *float32, n int, m float32, lanes *[8]float32) int {
	panic("no SIMD")
}
func swigluAVX(out, gate, up *float32, n int) int { panic("no SIMD") }
func wsum8AVX(o, a, v *float32, stride, n int)    { panic("no SIMD") }
func wsum32AVX(o, a, v *float32, stride, n int)   { panic("no SIMD") }
func wsum64AVX(o, a, v *float32, stride, n int)   { panic("no SIMD") }

func f32RowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32)  { panic("no SIMD") }
func f16RowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32)  { panic("no SIMD") }
func bf16RowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32) { panic("no SIMD") }
func f32RowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func f16RowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
func bf16RowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32) {
	panic("no SIMD")
}

func q8RowsP(w unsafe.Pointer, qx *int8, dx *float32, nb, nq int, out *float32) { panic("no SIMD") }
func q8RowsP2(w unsafe.Pointer, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32) {
	panic("no SIMD")
}
