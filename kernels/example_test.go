package kernels_test

import (
	"fmt"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
)

// A 2×3 F32 weight matrix times one activation row, with the reference and
// the fast kernels agreeing bit for bit.
func Example() {
	w := []float32{1, 2, 3, 4, 5, 6}
	wb := make([]byte, 4*len(w))
	for i, v := range w {
		b := kernels.F32ToBF16(v) // exact for these small integers
		wb[2*i], wb[2*i+1] = byte(b), byte(b>>8)
	}
	x := []float32{1, 0.5, -1}

	ref := make([]float32, 2)
	kernels.Reference().MatMul(ref, x, 1, wb[:2*len(w)], ir.BF16, 2, 3)

	fast := kernels.Fast(2)
	defer fast.Close()
	out := make([]float32, 2)
	fast.MatMul(out, x, 1, wb[:2*len(w)], ir.BF16, 2, 3)

	fmt.Println(ref, out)
	// Output: [-1 0.5] [-1 0.5]
}

// Quantising a block to Q8_0 and back.
func ExampleDequantize() {
	src := make([]float32, 32)
	for i := range src {
		src[i] = float32(i) / 8
	}
	q := make([]byte, 34)
	if err := kernels.QuantizeQ8_0(q, src); err != nil {
		panic(err)
	}
	back := make([]float32, 32)
	if err := kernels.Dequantize(back, q, ir.Q8_0); err != nil {
		panic(err)
	}
	fmt.Printf("%.4f %.4f\n", back[1], back[31])
	// Output: 0.1221 3.8757
}
