package kernels

import (
	"math/rand"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/splitup/splitup/ir"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCompute(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rand.New(rand.NewSource(1))
	rows, cols := 128, 2048
	for _, dt := range []ir.DType{ir.Q8_0, ir.Q4_0, ir.F32, ir.F16} {
		w := encodeWeights(t, randVec(r, rows*cols), dt)
		x := randVec(r, cols)
		qx := make([]int8, cols)
		dx := make([]float32, cols/32)
		QuantizeRowQ8(qx, dx, x)
		out := make([]float32, rows)
		rb := len(w) / rows
		reps := 4000
		t0 := cpuTime()
		for i := 0; i < reps; i++ {
			switch dt {
			case ir.Q8_0:
				q8Rows(unsafe.Pointer(&w[0]), rb, &qx[0], &dx[0], cols/32, rows/4, &out[0])
			case ir.Q4_0:
				q4Rows(unsafe.Pointer(&w[0]), rb, &qx[0], &dx[0], cols/32, rows/4, &out[0])
			case ir.F32:
				f32Rows(unsafe.Pointer(&w[0]), rb, &x[0], cols/8, rows/4, &out[0])
			case ir.F16:
				f16Rows(unsafe.Pointer(&w[0]), rb, &x[0], cols/8, rows/4, &out[0])
			}
		}
		per := (cpuTime() - t0).Seconds() / float64(reps)
		t.Logf("%v kernel: %.1f GB/s per core, %.2f ns per block-row", dt, float64(len(w))/per/1e9, per*1e9/float64(rows*cols/32))
	}
	x := randVec(r, cols)
	qx := make([]int8, cols)
	dx := make([]float32, cols/32)
	t0 := cpuTime()
	for i := 0; i < 4000; i++ {
		QuantizeRowQ8(qx, dx, x)
	}
	t.Logf("QuantizeRowQ8: %.2f ns per element", (cpuTime()-t0).Seconds()/4000/float64(cols)*1e9)
}
