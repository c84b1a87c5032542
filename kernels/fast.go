package kernels

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/splitup/splitup/ir"
)

// FastKernels is the multi-threaded SIMD implementation returned by [Fast].
// It is safe for concurrent use. Close stops its workers.
type FastKernels struct {
	pool *pool
	simd bool        // use the assembly block kernels
	mem  *hugeMemory // memory of the packed weights
}

// hugeMemory is the memory FastKernels.Prepare mapped; it is unmapped when
// the FastKernels that owns it is garbage. Copies are carved one after the
// other out of chunks of at least hugeChunk bytes, so a matrix whose size is
// not a multiple of the huge page does not take a partly used huge page of
// its own (2.3 MiB would otherwise occupy 4).
type hugeMemory struct {
	mu       sync.Mutex
	mappings [][]byte
	free     []byte // the unused tail of the newest chunk
}

// hugeChunk is the least memory mapped at a time for copies.
const hugeChunk = 32 << 20

// copyAlign is the alignment of every copy in a chunk (a page: more than
// any vector load needs).
const copyAlign = 4096

func (h *hugeMemory) alloc(n int) []byte {
	if n < hugePage {
		return make([]byte, n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	size := (n + copyAlign - 1) &^ (copyAlign - 1)
	if len(h.free) < size {
		b, m := mapHuge(max(size, hugeChunk))
		if m == nil {
			return make([]byte, n)
		}
		h.mappings = append(h.mappings, m)
		if size >= hugeChunk { // a chunk of its own: keep the current tail for later copies
			return b[:n:n]
		}
		h.free = b
	}
	b := h.free[:n:n]
	h.free = h.free[size:]
	return b
}

// HugeBytes returns n bytes that start on a huge-page boundary and are
// advised to live on transparent huge pages (on Linux; elsewhere, and for
// small n, plain heap memory): memory of the kind the fast kernels stream
// their weights from. It is never unmapped. Benchmarks read their buffers
// from it so that their bandwidth compares like with like.
func HugeBytes(n int) []byte {
	b, _ := mapHuge(n)
	return b
}

var _ Kernels = (*FastKernels)(nil)

// Fast returns kernels that run on a persistent pool of threads goroutines
// (the caller counts as one; threads < 1 means 1) and use AVX2 assembly when
// the CPU has it. Their results are bit-identical to [Reference] for every
// thread count. Call Close when done to stop the workers.
func Fast(threads int) *FastKernels {
	if threads < 1 {
		threads = 1
	}
	f := &FastKernels{pool: newPool(threads), simd: haveSIMD, mem: &hugeMemory{}}
	runtime.AddCleanup(f, func(h *hugeMemory) { unmapHuge(h.mappings) }, f.mem)
	return f
}

// Close stops the worker goroutines. Later calls still work, on the calling
// goroutine only. It always returns nil.
func (f *FastKernels) Close() error {
	f.pool.close()
	return nil
}

// Threads returns the number of threads f computes with.
func (f *FastKernels) Threads() int { return f.pool.threads }

// SIMD reports whether f uses the assembly kernels.
func (f *FastKernels) SIMD() bool { return f.simd }

// Embed implements [Kernels].
func (f *FastKernels) Embed(out []float32, table []byte, dt ir.DType, rows, d int, ids []int32) error {
	if err := checkEmbed(out, table, dt, rows, d, ids); err != nil {
		return err
	}
	embed(out, table, dt, d, ids)
	return nil
}

// RMSNorm implements [Kernels].
func (f *FastKernels) RMSNorm(out, x []float32, n, d int, w []float32, eps float32) {
	mustLen("RMSNorm x", len(x), n*d)
	mustLen("RMSNorm out", len(out), n*d)
	mustLen("RMSNorm w", len(w), d)
	f.pool.run(n, int64(n)*int64(d)*4, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			rmsNormRow(out[t*d:(t+1)*d], x[t*d:(t+1)*d], w, eps)
		}
	})
}

// RoPE implements [Kernels].
func (f *FastKernels) RoPE(out, x []float32, n, width int, pos []int32, headSize int, theta float32) {
	checkRoPE(out, x, n, width, pos, headSize, theta)
	f.pool.run(n, int64(n)*int64(width)*2, func(lo, hi int) {
		ropeRows(out, x, lo, hi, width, pos, headSize, theta)
	})
}

// Softmax implements [Kernels].
func (f *FastKernels) Softmax(out, x []float32, n, d int) {
	mustLen("Softmax x", len(x), n*d)
	mustLen("Softmax out", len(out), n*d)
	f.pool.run(n, int64(n)*int64(d)*16, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			softmaxRowFast(f.simd, out[t*d:(t+1)*d], x[t*d:(t+1)*d])
		}
	})
}

// elementwise runs fn over [0, n) in chunks of whole cache lines.
func (f *FastKernels) elementwise(n int, cost int64, fn func(lo, hi int)) {
	const grain = 16
	units := (n + grain - 1) / grain
	f.pool.run(units, int64(n)*cost, func(lo, hi int) {
		lo, hi = lo*grain, hi*grain
		if hi > n {
			hi = n
		}
		fn(lo, hi)
	})
}

// SiLU implements [Kernels].
func (f *FastKernels) SiLU(out, x []float32) {
	mustLen("SiLU out", len(out), len(x))
	f.elementwise(len(x), 16, func(lo, hi int) { siluRange(out[lo:hi], x[lo:hi]) })
}

// SwiGLU implements [Kernels].
func (f *FastKernels) SwiGLU(out, gate, up []float32) {
	mustLen("SwiGLU out", len(out), len(gate))
	mustLen("SwiGLU up", len(up), len(gate))
	f.elementwise(len(gate), 16, func(lo, hi int) { swigluRangeFast(f.simd, out[lo:hi], gate[lo:hi], up[lo:hi]) })
}

// swigluRangeFast is swigluRange with whole vectors of 8 done by the AVX2
// kernel where it can.
func swigluRangeFast(simd bool, out, g, u []float32) {
	if !simd {
		swigluRange(out, g, u)
		return
	}
	n8 := len(g) &^ 7
	for i := 0; i < len(g); {
		if i < n8 {
			i += swigluAVX(&out[i], &g[i], &u[i], n8-i)
		}
		end := min(i+8, len(g)) // one vector the kernel left, or the tail
		swigluRange(out[i:end], g[i:end], u[i:end])
		i = end
	}
}

// Relu implements [Kernels].
func (f *FastKernels) Relu(out, x []float32) {
	mustLen("Relu out", len(out), len(x))
	f.elementwise(len(x), 1, func(lo, hi int) { reluRange(out[lo:hi], x[lo:hi]) })
}

// Add implements [Kernels].
func (f *FastKernels) Add(out, a, b []float32) {
	bcast("Add", out, a, b)
	f.elementwise(len(a), 1, func(lo, hi int) { addRange(out[lo:hi], a[lo:hi], b, lo) })
}

// Mul implements [Kernels].
func (f *FastKernels) Mul(out, a, b []float32) {
	bcast("Mul", out, a, b)
	f.elementwise(len(a), 1, func(lo, hi int) { mulRange(out[lo:hi], a[lo:hi], b, lo) })
}

// Attention implements [Kernels].
func (f *FastKernels) Attention(out, q, k, v []float32, n int, pos []int32, kc, vc []float32, ctx, heads, kvHeads, headSize int) error {
	if err := checkAttention(out, q, k, v, n, pos, kc, vc, ctx, heads, kvHeads, headSize); err != nil {
		return err
	}
	storeKV(k, v, pos, kc, vc, ctx, kvHeads, headSize)
	var work int64
	for _, p := range pos {
		work += int64(p+1) * int64(heads) * int64(headSize) * 2
	}
	f.pool.run(n*heads, work, func(lo, hi int) {
		att := make([]float32, ctx)
		scale := sqrt32(float32(headSize))
		for u := lo; u < hi; u++ {
			t, h := u/heads, u%heads
			g := h / (heads / kvHeads)
			qh := q[u*headSize:][:headSize]
			a := att[:pos[t]+1]
			f.scores(a, qh, kc[g*ctx*headSize:], headSize)
			for j := range a {
				a[j] /= scale
			}
			softmaxRowFast(f.simd, a, a)
			weightedSum(f.simd, out[u*headSize:][:headSize], a, vc[g*ctx*headSize:], headSize)
		}
	})
	return nil
}

// scores writes a[j] = dotF32(qh, row j of the cache), the cache rows
// starting at kc[j*stride].
func (f *FastKernels) scores(a, qh, kc []float32, stride int) {
	hs := len(qh)
	n8 := hs / 8
	var acc [4][8]float32
	j := 0
	if f.simd && hs%8 == 0 && len(a) >= 4 {
		nq := len(a) / 4
		f32Rows(unsafe.Pointer(&kc[0]), stride*4, &qh[0], n8, nq, &a[0])
		j = 4 * nq
	}
	for ; j < len(a); j += 4 {
		var rows [4][]float32
		for r := range rows {
			jr := min(j+r, len(a)-1)
			rows[r] = kc[jr*stride:][:hs]
		}
		dot4F32Slices(f.simd, &rows, qh, n8, &acc)
		for r := 0; r < 4 && j+r < len(a); r++ {
			l := &acc[r]
			for i := n8 * 8; i < hs; i++ {
				l[i-n8*8] += float32(rows[r][i] * qh[i])
			}
			a[j+r] = tree8(l)
		}
	}
}

// weightedSum writes o[d] = sum over j, in increasing j from +0, of
// float32(a[j] * v_j[d]), the value rows starting at vc[j*stride].
func weightedSum(simd bool, o, a, vc []float32, stride int) {
	c := 0
	if simd && len(a) > 0 {
		for ; c+64 <= len(o); c += 64 { // a 64-wide head reads its value rows once
			wsum64AVX(&o[c], &a[0], &vc[c], 4*stride, len(a))
		}
		for ; c+32 <= len(o); c += 32 {
			wsum32AVX(&o[c], &a[0], &vc[c], 4*stride, len(a))
		}
		for ; c+8 <= len(o); c += 8 {
			wsum8AVX(&o[c], &a[0], &vc[c], 4*stride, len(a))
		}
	}
	for d := c; d < len(o); d++ {
		var s float32
		for j, aj := range a {
			s += float32(aj * vc[j*stride+d])
		}
		o[d] = s
	}
}

// softmaxRowFast is softmaxRow with the exponentials of whole vectors of 8
// done by the AVX2 kernel where it can.
func softmaxRowFast(simd bool, out, x []float32) {
	if !simd || len(x) < 8 {
		softmaxRow(out, x)
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var l [8]float32
	n8 := len(x) &^ 7
	for i := 0; i < len(x); {
		if i < n8 {
			i += expSubAVX(&out[i], &x[i], n8-i, m, &l)
		}
		end := min(i+8, len(x)) // one vector the kernel left, or the tail
		for ; i < end; i++ {
			e := exp32(x[i] - m)
			out[i] = e
			l[i%8] += e
		}
	}
	sum := tree8(&l)
	for i := range out[:len(x)] {
		out[i] /= sum
	}
}
