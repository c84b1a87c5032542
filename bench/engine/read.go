package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/splitup/splitup/kernels"
)

// readProbe measures the machine's read bandwidth the way the bound of a
// decode needs it: a plain sum over as many bytes as the model's weights,
// on huge pages like the engine's weight copies, split into one contiguous
// part per thread like stream.c's "read" kernel. Run right after each
// decoded token, it pairs every token with a bandwidth reading taken within
// milliseconds of it, so drift of the machine's bandwidth (which on a
// virtual machine moves by a third between passes seconds apart) cancels
// out of the ratio.
type readProbe struct {
	buf     []byte
	threads int
	sums    []uint64 // per thread, kept so that the reads are not dead code
}

func newReadProbe(n int64, threads int) *readProbe {
	r := &readProbe{buf: kernels.HugeBytes(int(n) / 128 * 128), threads: threads, sums: make([]uint64, threads)}
	r.each(func(p []byte) { // first touch by the thread that will read it
		for i := 0; i < len(p); i += 4096 {
			p[i] = 1
		}
	})
	return r
}

// part returns thread t's contiguous part of the buffer.
func (r *readProbe) part(t int) []byte {
	units := len(r.buf) / 128
	return r.buf[t*units/r.threads*128 : (t+1)*units/r.threads*128]
}

// each runs fn on the threads' parts, the caller taking the first.
func (r *readProbe) each(fn func(p []byte)) {
	var wg sync.WaitGroup
	for t := 1; t < r.threads; t++ {
		wg.Add(1)
		go func() { defer wg.Done(); fn(r.part(t)) }()
	}
	fn(r.part(0))
	wg.Wait()
}

// pass reads the whole buffer once and returns how long it took: from the
// moment every thread is ready to the moment the last one is done, so that
// neither starting a thread nor a pool worker still spinning on a CPU after
// the token counts against the read. The bound is the stricter for it.
func (r *readProbe) pass() time.Duration {
	var ready atomic.Int32
	var wg sync.WaitGroup
	ends := make([]time.Time, r.threads)
	read := func(t int) {
		ready.Add(1)
		for ready.Load() < int32(r.threads) {
		}
		r.sums[t] += sum128(r.part(t))
		ends[t] = time.Now()
	}
	for t := 1; t < r.threads; t++ {
		wg.Add(1)
		go func() { defer wg.Done(); read(t) }()
	}
	ready.Add(1)
	for ready.Load() < int32(r.threads) {
	}
	t0 := time.Now()
	ready.Add(-1) // read(0) counts itself again
	read(0)
	wg.Wait()
	end := ends[0]
	for _, e := range ends[1:] {
		if e.After(end) {
			end = e
		}
	}
	return end.Sub(t0)
}
