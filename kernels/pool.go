package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a fixed set of worker goroutines that run chunks of a parallel
// loop; the calling goroutine runs the first chunk itself. Between loops a
// worker spins briefly before it parks, so the back-to-back loops of a
// decode step do not pay a wake-up each.
type pool struct {
	threads int
	spin    time.Duration // how long an idle thread polls before it parks
	workers []*worker
	ranges  []grainRange // per thread, for runGrains

	mu     sync.Mutex // held for the whole of a loop and by close; guards closed
	closed bool

	pending  atomic.Int32  // chunks of the current loop not yet finished by workers
	sleeping atomic.Bool   // the caller parked waiting for pending to reach 0
	done     chan struct{} // wakes the parked caller (buffered; stale tokens are harmless)
}

// worker runs the task posted to it; seq counts posts.
type worker struct {
	seq      atomic.Uint64
	task     poolTask // written before seq is incremented
	sleeping atomic.Bool
	wake     chan struct{} // buffered; stale tokens are harmless
}

type poolTask struct {
	fn     func(lo, hi int) // nil tells the worker to exit
	lo, hi int
}

// spinFor bounds the polling of a worker waiting for work, or of the
// caller waiting for workers, before it parks. It outlasts the gaps between
// the parallel loops of a decode step (norms, attention of one head group,
// residual adds: tens to hundreds of µs), so a step pays no wake-up: on a
// virtual machine waking a parked thread costs about as much as such a gap.
// A pool with more threads than GOMAXPROCS polls only spinShort: there a
// polling thread would hold a P that a thread with work is waiting for.
const (
	spinFor   = time.Millisecond
	spinShort = 20 * time.Microsecond
)

// spinner paces a polling loop: more reports true until limit has passed
// since its first call, reading the clock once every 256 calls.
type spinner struct {
	n     int
	start time.Time
	limit time.Duration
}

func (s *spinner) more() bool {
	s.n++
	if s.n&255 != 0 {
		return true
	}
	if s.start.IsZero() {
		s.start = time.Now()
		return true
	}
	return time.Since(s.start) < s.limit
}

func newPool(threads int) *pool {
	p := &pool{threads: threads, done: make(chan struct{}, 1), ranges: make([]grainRange, threads), spin: spinFor}
	if threads > runtime.GOMAXPROCS(0) {
		p.spin = spinShort
	}
	for i := 1; i < threads; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go w.loop(p)
	}
	return p
}

func (w *worker) post(t poolTask) {
	w.task = t
	w.seq.Add(1)
	if w.sleeping.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *worker) loop(p *pool) {
	var last uint64
	for {
		sp := spinner{limit: p.spin}
		for w.seq.Load() == last {
			if !sp.more() {
				w.sleeping.Store(true)
				if w.seq.Load() == last {
					<-w.wake
				}
				w.sleeping.Store(false)
			}
		}
		last = w.seq.Load()
		t := w.task
		if t.fn == nil {
			return
		}
		t.fn(t.lo, t.hi)
		if p.pending.Add(-1) == 0 && p.sleeping.Load() {
			select {
			case p.done <- struct{}{}:
			default:
			}
		}
	}
}

// run calls fn on contiguous chunks covering [0, units), one chunk per
// thread, and returns when all are done. It runs fn(0, units) inline when
// work (an estimate in multiply-adds or elements) is below what is worth
// waking workers for, or after close. Loops from concurrent callers run one
// after the other.
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
	defer p.mu.Unlock()
	if p.closed {
		fn(0, units)
		return
	}
	p.fork(chunks, func(c, _ int) { fn(c*units/chunks, (c+1)*units/chunks) })
}

// runGrains calls fn(g) once for every grain g in [0, grains), and returns
// when all are done. Each thread owns a contiguous range of grains, which it
// takes in increasing order; a thread that has finished its range takes the
// last grains of the range with the most left, so a thread that starts late
// or runs slow does not hold the others up. It runs inline under the same
// conditions as run.
func (p *pool) runGrains(grains int, work int64, fn func(g int)) {
	chunks := min(p.threads, grains)
	if chunks <= 1 || work < parallelMin {
		for g := 0; g < grains; g++ {
			fn(g)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for g := 0; g < grains; g++ {
			fn(g)
		}
		return
	}
	for c := 0; c < chunks; c++ {
		p.ranges[c].set(c*grains/chunks, (c+1)*grains/chunks)
	}
	ranges := p.ranges[:chunks]
	p.fork(chunks, func(c, _ int) {
		own := &ranges[c]
		for {
			g, ok := own.front()
			if !ok {
				break
			}
			fn(g)
		}
		for {
			var victim *grainRange
			most := 0
			for i := range ranges {
				if left := ranges[i].left(); left > most {
					victim, most = &ranges[i], left
				}
			}
			if victim == nil {
				return
			}
			if g, ok := victim.back(); ok {
				fn(g)
			}
		}
	})
}

// grainRange is the part of a runGrains loop a thread has not started yet:
// grains [lo, hi) packed as lo<<32 | hi, on a cache line of its own.
type grainRange struct {
	v atomic.Uint64
	_ [56]byte
}

func (r *grainRange) set(lo, hi int) { r.v.Store(uint64(lo)<<32 | uint64(hi)) }

func (r *grainRange) left() int {
	v := r.v.Load()
	return max(int(uint32(v))-int(v>>32), 0)
}

// front takes the first grain of the range.
func (r *grainRange) front() (int, bool) {
	for {
		v := r.v.Load()
		lo, hi := v>>32, v&0xffffffff
		if lo >= hi {
			return 0, false
		}
		if r.v.CompareAndSwap(v, v+1<<32) {
			return int(lo), true
		}
	}
}

// back takes the last grain of the range.
func (r *grainRange) back() (int, bool) {
	for {
		v := r.v.Load()
		lo, hi := v>>32, v&0xffffffff
		if lo >= hi {
			return 0, false
		}
		if r.v.CompareAndSwap(v, v-1) {
			return int(hi - 1), true
		}
	}
}

// fork runs fn(c, c+1) for c in [0, chunks), chunk 0 on the calling
// goroutine and the others on workers, and waits for all. p.mu is held.
func (p *pool) fork(chunks int, fn func(lo, hi int)) {
	p.pending.Store(int32(chunks - 1))
	for c := 1; c < chunks; c++ {
		p.workers[c-1].post(poolTask{fn, c, c + 1})
	}
	fn(0, 1)
	sp := spinner{limit: p.spin}
	for p.pending.Load() != 0 {
		if !sp.more() {
			p.sleeping.Store(true)
			if p.pending.Load() != 0 {
				<-p.done
			}
			p.sleeping.Store(false)
		}
	}
}

// parallelMin is the work (multiply-adds or elements) below which a loop
// runs on the calling goroutine.
const parallelMin = 1 << 17

// close stops the workers; later loops run inline.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, w := range p.workers {
		w.post(poolTask{})
	}
}
