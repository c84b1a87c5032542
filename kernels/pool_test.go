package kernels

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolParksAndWakes checks that idle workers stop polling after their
// spin and that a loop posted to parked workers still runs every chunk.
func TestPoolParksAndWakes(t *testing.T) {
	p := newPool(3)
	defer p.close()
	want := spinFor
	if runtime.GOMAXPROCS(0) < 3 {
		want = spinShort
	}
	if p.spin != want {
		t.Fatalf("a pool of 3 threads on %d Ps polls %v, want %v", runtime.GOMAXPROCS(0), p.spin, want)
	}
	big := newPool(runtime.GOMAXPROCS(0) + 1)
	big.close()
	if big.spin != spinShort {
		t.Errorf("a pool with more threads than Ps polls %v, want %v", big.spin, spinShort)
	}
	for round := 0; round < 3; round++ {
		var sum atomic.Int64
		p.run(300, parallelMin, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sum.Add(int64(i))
			}
		})
		if got, want := sum.Load(), int64(299*300/2); got != want {
			t.Fatalf("round %d: sum %d, want %d", round, got, want)
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, w := range p.workers {
			for !w.sleeping.Load() {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: a worker still polls %v after its loop (spin %v)", round, 10*time.Second, p.spin)
				}
				time.Sleep(p.spin)
			}
		}
	}
}
