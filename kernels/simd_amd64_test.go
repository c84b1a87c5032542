package kernels

import (
	"fmt"
	"math/rand"
	"testing"
	"unsafe"

	"github.com/splitup/splitup/ir"
)

// TestRowsKernelsAgree: the prefetch flavours of the unquantised Rows
// kernels give the same bits, whatever the row length relative to the
// prefetch distance.
func TestRowsKernelsAgree(t *testing.T) {
	if !haveSIMD {
		t.Skip("no AVX2")
	}
	type kern func(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)
	r := rand.New(rand.NewSource(11))
	for _, k := range []struct {
		dt          ir.DType
		rows, nq, w kern
	}{
		{ir.F32, f32Rows, f32RowsNQ, f32RowsW},
		{ir.F16, f16Rows, f16RowsNQ, f16RowsW},
		{ir.BF16, bf16Rows, bf16RowsNQ, bf16RowsW},
	} {
		for _, cols := range []int{8, 248, 256, 264, 512, 520, 1024, 2056} {
			const nq = 3
			w := encodeWeights(t, randVec(r, 4*nq*cols), k.dt)
			x := randVec(r, cols)
			stride := len(w) / (4 * nq)
			want := make([]float32, 4*nq)
			k.rows(unsafe.Pointer(&w[0]), stride, &x[0], cols/8, nq, &want[0])
			for _, v := range []struct {
				name string
				f    kern
			}{{"NQ", k.nq}, {"W", k.w}} {
				name, f := v.name, v.f
				got := make([]float32, 4*nq)
				f(unsafe.Pointer(&w[0]), stride, &x[0], cols/8, nq, &got[0])
				requireSame(t, fmt.Sprintf("%v Rows%s cols=%d", k.dt, name, cols), want, got)
			}
		}
	}
}
