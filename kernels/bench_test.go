package kernels

import (
	"flag"
	"fmt"
	"math/rand"
	"testing"
	"time"
	"unsafe"

	"github.com/splitup/splitup/ir"
)

var (
	benchBW      = flag.Float64("bw", 0, "memory bandwidth in GB/s (stream read kernel); adds the %bw metric to the MatMul benchmarks")
	benchThreads = flag.Int("threads", 2, "threads for the Fast kernels in benchmarks")
	benchRef     = flag.Bool("ref", true, "time the reference kernels too and report the fast/reference speed ratio")
	benchSetMiB  = flag.Int("wset", 256, "MiB of weight copies a MatMul benchmark cycles through; make it several times the last-level cache")
)

// weightSet holds enough copies of one weight matrix that cycling through
// them does not fit in the last-level cache, as in a real model's layers.
type weightSet struct {
	copies [][]byte
	next   int
}

// lastSet keeps the most recent weight set, so the repeated runs of one
// benchmark do not rebuild it.
var lastSet struct {
	dt         ir.DType
	rows, cols int
	mib        int
	packed     bool
	set        *weightSet
}

// newWeightSet returns copies of one random matrix, in the packed layout
// if packed.
func newWeightSet(b *testing.B, dt ir.DType, rows, cols int, packed bool) *weightSet {
	if s := lastSet.set; s != nil && lastSet.dt == dt && lastSet.rows == rows && lastSet.cols == cols && lastSet.mib == *benchSetMiB && lastSet.packed == packed {
		return s
	}
	lastSet.set = nil // let the old set go before building the new one
	r := rand.New(rand.NewSource(1))
	w := encodeWeights(b, randVec(r, rows*cols), dt)
	if packed {
		var err error
		if w, err = Pack(w, dt, rows, cols); err != nil {
			b.Fatal(err)
		}
	}
	n := max(1, (*benchSetMiB<<20+len(w)-1)/len(w))
	s := &weightSet{copies: [][]byte{w}}
	s.copies[0] = HugeBytes(len(w))
	copy(s.copies[0], w)
	for i := 1; i < n; i++ {
		c := HugeBytes(len(w))
		copy(c, w)
		s.copies = append(s.copies, c)
	}
	lastSet.dt, lastSet.rows, lastSet.cols, lastSet.mib, lastSet.packed, lastSet.set = dt, rows, cols, *benchSetMiB, packed, s
	return s
}

func (s *weightSet) get() []byte {
	w := s.copies[s.next]
	s.next = (s.next + 1) % len(s.copies)
	return w
}

type mmShape struct{ rows, cols int }

// benchMatMul times n tokens against each shape, with the weights row-major
// and, for the types Pack takes, in the packed layout (sub-benchmark
// "packed").
func benchMatMul(b *testing.B, n int, shapes []mmShape) {
	for _, dt := range allWeightTypes {
		for _, s := range shapes {
			benchMatMulOne(b, n, dt, s, false)
			if packUnit(dt, s.cols) != 0 {
				benchMatMulOne(b, n, dt, s, true)
			}
		}
	}
}

func benchMatMulOne(b *testing.B, n int, dt ir.DType, s mmShape, packed bool) {
	name := fmt.Sprintf("%v/%dx%d", dt, s.rows, s.cols)
	if packed {
		name += "/packed"
	}
	b.Run(name, func(b *testing.B) {
		ws := newWeightSet(b, dt, s.rows, s.cols, packed)
		x := randVec(rand.New(rand.NewSource(2)), n*s.cols)
		out := make([]float32, n*s.rows)
		f := Fast(*benchThreads)
		defer f.Close()
		var refPerOp time.Duration
		if *benchRef {
			start := time.Now()
			reps := 0
			for time.Since(start) < 200*time.Millisecond || reps == 0 {
				Reference().MatMul(out, x, n, ws.get(), dt, s.rows, s.cols)
				reps++
			}
			refPerOp = time.Since(start) / time.Duration(reps)
		}
		bytes := len(ws.copies[0])
		b.SetBytes(int64(bytes))
		b.ResetTimer()
		parts := []MatMulPart{{Out: out, DType: dt, Rows: s.rows, Packed: packed}}
		for i := 0; i < b.N; i++ {
			parts[0].W = ws.get()
			f.MatMuls(x, n, s.cols, parts)
		}
		perOp := b.Elapsed().Seconds() / float64(b.N)
		gbs := float64(bytes) / perOp / 1e9
		b.ReportMetric(gbs, "GB/s")
		b.ReportMetric(2*float64(n)*float64(s.rows)*float64(s.cols)/perOp/1e9, "GFLOP/s")
		if *benchBW > 0 {
			b.ReportMetric(100*gbs / *benchBW, "%bw")
		}
		if refPerOp > 0 {
			b.ReportMetric(refPerOp.Seconds()/perOp, "x_ref")
		}
	})
}

// BenchmarkMatMulDecode measures one token against the weight shapes of a
// 110M LLaMA (dim 768, hidden 2048) and TinyLlama-1.1B (dim 2048, hidden
// 5632, vocab 32000). It reports weight GB/s (and %bw given -bw), GFLOP/s
// and the speed-up over the reference kernels.
func BenchmarkMatMulDecode(b *testing.B) {
	benchMatMul(b, 1, []mmShape{{2048, 768}, {768, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}})
}

// BenchmarkMatMulPrefill measures a 32-token batch.
func BenchmarkMatMulPrefill(b *testing.B) {
	benchMatMul(b, 32, []mmShape{{2048, 768}, {5632, 2048}})
}

// BenchmarkAttentionDecode measures one decode step at position 511 of a
// 110M-shaped model layer (12 heads of 64), cycling through -wset MiB of
// KV caches so that each step reads its cache from memory, as a decode
// does after streaming the weights of a layer; it reports the cache's GB/s.
func BenchmarkAttentionDecode(b *testing.B) {
	const ctx, heads, hs = 512, 12, 64
	r := rand.New(rand.NewSource(3))
	q, k, v := randVec(r, heads*hs), randVec(r, heads*hs), randVec(r, heads*hs)
	size := ctx * heads * hs
	n := max(1, (*benchSetMiB<<20)/(8*size))
	kc, vc := make([][]float32, n), make([][]float32, n)
	for i := range kc {
		kc[i], vc[i] = benchF32(randVec(r, size)), benchF32(randVec(r, size))
	}
	out := make([]float32, heads*hs)
	f := Fast(*benchThreads)
	defer f.Close()
	b.SetBytes(int64(8 * size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := i % n
		if err := f.Attention(out, q, k, v, 1, []int32{ctx - 1}, kc[c], vc[c], ctx, heads, heads, hs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTinyDecodeStep runs the kernels of one decode step of a
// stories260K-shaped model (dim 64, hidden 172, 5 layers, 8 heads, 4 KV
// heads, vocab 512, F32) at position 100; it measures per-op overhead,
// which must stay far below the work of such small ops.
func BenchmarkTinyDecodeStep(b *testing.B) {
	const dim, hidden, layers, heads, kvHeads, vocab, ctx = 64, 172, 5, 8, 4, 512, 512
	const hs = dim / heads
	r := rand.New(rand.NewSource(4))
	wq := encodeWeights(b, randVec(r, dim*dim), ir.F32)
	wk := encodeWeights(b, randVec(r, kvHeads*hs*dim), ir.F32)
	w1 := encodeWeights(b, randVec(r, hidden*dim), ir.F32)
	w2 := encodeWeights(b, randVec(r, dim*hidden), ir.F32)
	emb := encodeWeights(b, randVec(r, vocab*dim), ir.F32)
	norm := randVec(r, dim)
	kc, vc := randVec(r, layers*ctx*kvHeads*hs), randVec(r, layers*ctx*kvHeads*hs)
	x, xb, q, att := make([]float32, dim), make([]float32, dim), make([]float32, dim), make([]float32, dim)
	k, v := make([]float32, kvHeads*hs), make([]float32, kvHeads*hs)
	h1, h3 := make([]float32, hidden), make([]float32, hidden)
	logits := make([]float32, vocab)
	for _, kk := range []struct {
		name string
		k    Kernels
	}{{"reference", Reference()}, {"fast", Fast(*benchThreads)}} {
		b.Run(kk.name, func(b *testing.B) {
			ks := kk.k
			pos := []int32{100}
			for i := 0; i < b.N; i++ {
				if err := ks.Embed(x, emb, ir.F32, vocab, dim, []int32{7}); err != nil {
					b.Fatal(err)
				}
				for l := 0; l < layers; l++ {
					ks.RMSNorm(xb, x, 1, dim, norm, 1e-5)
					ks.MatMul(q, xb, 1, wq, ir.F32, dim, dim)
					ks.MatMul(k, xb, 1, wk, ir.F32, kvHeads*hs, dim)
					ks.MatMul(v, xb, 1, wk, ir.F32, kvHeads*hs, dim)
					ks.RoPE(q, q, 1, dim, pos, hs, 10000)
					ks.RoPE(k, k, 1, kvHeads*hs, pos, hs, 10000)
					lc := kc[l*ctx*kvHeads*hs : (l+1)*ctx*kvHeads*hs]
					lv := vc[l*ctx*kvHeads*hs : (l+1)*ctx*kvHeads*hs]
					if err := ks.Attention(att, q, k, v, 1, pos, lc, lv, ctx, heads, kvHeads, hs); err != nil {
						b.Fatal(err)
					}
					ks.MatMul(xb, att, 1, wq, ir.F32, dim, dim)
					ks.Add(x, x, xb)
					ks.RMSNorm(xb, x, 1, dim, norm, 1e-5)
					ks.MatMul(h1, xb, 1, w1, ir.F32, hidden, dim)
					ks.MatMul(h3, xb, 1, w1, ir.F32, hidden, dim)
					ks.SwiGLU(h1, h1, h3)
					ks.MatMul(xb, h1, 1, w2, ir.F32, dim, hidden)
					ks.Add(x, x, xb)
				}
				ks.RMSNorm(x, x, 1, dim, norm, 1e-5)
				ks.MatMul(logits, x, 1, emb, ir.F32, vocab, dim)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		if c, ok := kk.k.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

// benchF32 copies x into memory from HugeBytes (huge pages where the
// system has them, as the engine's state has).
func benchF32(x []float32) []float32 {
	b := HugeBytes(4 * len(x))
	y := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(x))
	copy(y, x)
	return y
}
