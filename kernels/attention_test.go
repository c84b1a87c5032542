package kernels

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

type attnShape struct{ ctx, heads, kvHeads, headSize int }

func TestAttentionMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	ref := Reference()
	vs := fastVariants(t)
	for _, s := range []attnShape{{8, 1, 1, 4}, {40, 4, 2, 12}, {64, 8, 8, 16}, {300, 8, 2, 64}, {50, 4, 2, 104}, {20, 3, 1, 7}} {
		for _, n := range []int{1, 3, 17} {
			if n > s.ctx {
				continue
			}
			kvDim := s.kvHeads * s.headSize
			qDim := s.heads * s.headSize
			q, k, v := randVec(r, n*qDim), randVec(r, n*kvDim), randVec(r, n*kvDim)
			// Fill the caches with history, then append n rows at a random start.
			kc0, vc0 := randVec(r, s.ctx*kvDim), randVec(r, s.ctx*kvDim)
			start := r.Intn(s.ctx - n + 1)
			pos := make([]int32, n)
			for i := range pos {
				pos[i] = int32(start + i)
			}
			run := func(kk Kernels) ([]float32, []float32, []float32) {
				kc, vc := append([]float32(nil), kc0...), append([]float32(nil), vc0...)
				out := make([]float32, n*qDim)
				if err := kk.Attention(out, q, k, v, n, pos, kc, vc, s.ctx, s.heads, s.kvHeads, s.headSize); err != nil {
					t.Fatal(err)
				}
				return out, kc, vc
			}
			want, wkc, wvc := run(ref)
			for _, vr := range vs {
				got, gkc, gvc := run(vr.k)
				what := fmt.Sprintf("%s %+v n=%d", vr.name, s, n)
				requireSame(t, what, want, got)
				requireSame(t, what+" key cache", wkc, gkc)
				requireSame(t, what+" value cache", wvc, gvc)
			}
		}
	}
}

// TestAttentionBatchInvariance checks that a prefill of n rows gives the
// bits of n single decode steps.
func TestAttentionBatchInvariance(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	s := attnShape{64, 6, 2, 24}
	n := 33
	kvDim, qDim := s.kvHeads*s.headSize, s.heads*s.headSize
	q, k, v := randVec(r, n*qDim), randVec(r, n*kvDim), randVec(r, n*kvDim)
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(i)
	}
	for _, vr := range append(fastVariants(t), variant{"reference", Reference()}) {
		kc, vc := make([]float32, s.ctx*kvDim), make([]float32, s.ctx*kvDim)
		batch := make([]float32, n*qDim)
		if err := vr.k.Attention(batch, q, k, v, n, pos, kc, vc, s.ctx, s.heads, s.kvHeads, s.headSize); err != nil {
			t.Fatal(err)
		}
		kc1, vc1 := make([]float32, s.ctx*kvDim), make([]float32, s.ctx*kvDim)
		for i := 0; i < n; i++ {
			one := make([]float32, qDim)
			err := vr.k.Attention(one, q[i*qDim:(i+1)*qDim], k[i*kvDim:(i+1)*kvDim], v[i*kvDim:(i+1)*kvDim], 1, pos[i:i+1], kc1, vc1, s.ctx, s.heads, s.kvHeads, s.headSize)
			if err != nil {
				t.Fatal(err)
			}
			requireSame(t, fmt.Sprintf("%s row %d", vr.name, i), one, batch[i*qDim:(i+1)*qDim])
		}
	}
}

func TestAttentionErrors(t *testing.T) {
	s := attnShape{4, 2, 1, 8}
	kvDim, qDim := s.kvHeads*s.headSize, s.heads*s.headSize
	for _, vr := range append(fastVariants(t), variant{"reference", Reference()}) {
		kc, vc := make([]float32, s.ctx*kvDim), make([]float32, s.ctx*kvDim)
		k := make([]float32, kvDim)
		for i := range k {
			k[i] = 1
		}
		for _, p := range []int32{-1, 4} {
			err := vr.k.Attention(make([]float32, qDim), make([]float32, qDim), k, k, 1, []int32{p}, kc, vc, s.ctx, s.heads, s.kvHeads, s.headSize)
			if !errors.Is(err, ErrIndex) {
				t.Errorf("%s: position %d: %v", vr.name, p, err)
			}
		}
		for _, c := range kc {
			if c != 0 {
				t.Fatalf("%s: failed call wrote the cache", vr.name)
			}
		}
		err := vr.k.Attention(make([]float32, qDim), make([]float32, qDim), k, k, 1, []int32{0}, kc, vc, s.ctx, 3, s.kvHeads, s.headSize)
		if err == nil {
			t.Errorf("%s: wrong q size accepted", vr.name)
		}
	}
}

func TestAttentionSingleKey(t *testing.T) {
	// With one cached row the output is exactly that row's value.
	ref := Reference()
	v := []float32{1, 2, 3, 4}
	out := make([]float32, 4)
	kc, vc := make([]float32, 8), make([]float32, 8)
	if err := ref.Attention(out, []float32{1, 0, 0, 0}, []float32{5, 5, 5, 5}, v, 1, []int32{0}, kc, vc, 2, 1, 1, 4); err != nil {
		t.Fatal(err)
	}
	requireSame(t, "single key", v, out)
}
