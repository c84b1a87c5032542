package kernels

import (
	"sync"
	"sync/atomic"
)

// pool is a fixed set of worker goroutines that run chunks of a parallel
// loop. The calling goroutine runs the first chunk itself.
type pool struct {
	threads int
	tasks   chan poolTask // closed by close
	closed  atomic.Bool
	mu      sync.Mutex // serialises close against run's sends
}

type poolTask struct {
	fn     func(lo, hi int)
	lo, hi int
	wg     *sync.WaitGroup
}

func newPool(threads int) *pool {
	p := &pool{threads: threads, tasks: make(chan poolTask, threads)}
	for i := 1; i < threads; i++ {
		go p.work()
	}
	return p
}

func (p *pool) work() {
	for t := range p.tasks {
		t.fn(t.lo, t.hi)
		t.wg.Done()
	}
}

// run calls fn on contiguous chunks covering [0, units), one chunk per
// thread, and returns when all are done. It runs fn(0, units) inline when
// work (an estimate in multiply-adds) is below the threshold worth waking
// workers for, or after close.
func (p *pool) run(units int, work int64, fn func(lo, hi int)) {
	chunks := p.threads
	if units < chunks {
		chunks = units
	}
	if chunks <= 1 || work < parallelMin {
		fn(0, units)
		return
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		fn(0, units)
		return
	}
	var wg sync.WaitGroup
	wg.Add(chunks - 1)
	for c := 1; c < chunks; c++ {
		p.tasks <- poolTask{fn, c * units / chunks, (c + 1) * units / chunks, &wg}
	}
	p.mu.Unlock()
	fn(0, units/chunks)
	wg.Wait()
}

// parallelMin is the work (multiply-adds or elements) below which a loop
// runs on the calling goroutine: waking a worker costs a few microseconds.
const parallelMin = 1 << 15

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed.Swap(true) {
		close(p.tasks)
	}
}
