//go:build !amd64

package kernels

import "unsafe"

// haveSIMD reports whether the assembly kernels can run; there are none
// for this architecture.
const haveSIMD = false

func f32Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)  { panic("no SIMD") }
func f16Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)  { panic("no SIMD") }
func bf16Dot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32) { panic("no SIMD") }
func f32Dot4x2(p *[4]unsafe.Pointer, x0, x1 *float32, n8 int, acc *[2][4][8]float32) {
	panic("no SIMD")
}
func f16Dot4x2(p *[4]unsafe.Pointer, x0, x1 *float32, n8 int, acc *[2][4][8]float32) {
	panic("no SIMD")
}
func bf16Dot4x2(p *[4]unsafe.Pointer, x0, x1 *float32, n8 int, acc *[2][4][8]float32) {
	panic("no SIMD")
}
func q8Dot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32) {
	panic("no SIMD")
}
func q4Dot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32) {
	panic("no SIMD")
}

func axpy(simd bool, o, v []float32, a float32) { axpyGo(o, v, a) }
