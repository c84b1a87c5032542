package main

import (
	"math/rand/v2"
	"testing"
)

func TestSum128(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 128, 256, 128 * 7, 1 << 16} {
		p := make([]byte, n)
		var want uint64
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		for i := 0; i+8 <= n; i += 8 {
			want += uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
				uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56
		}
		if got := sum128(p); got != want {
			t.Errorf("sum128 of %d bytes = %d, want %d", n, got, want)
		}
		if got := sumGo(p); got != want {
			t.Errorf("sumGo of %d bytes = %d, want %d", n, got, want)
		}
	}
}

func TestReadProbeReadsEveryThreadsPart(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		p := newReadProbe(1<<20+128*5, threads)
		for i := range p.buf {
			p.buf[i] = 0
		}
		for i := 0; i < len(p.buf); i += 8 {
			p.buf[i] = 1 // every 64-bit word counts 1
		}
		if d := p.pass(); d <= 0 {
			t.Fatalf("%d threads: pass took %v", threads, d)
		}
		var total uint64
		for _, s := range p.sums {
			total += s
		}
		if want := uint64(len(p.buf) / 8); total != want {
			t.Errorf("%d threads: the parts sum to %d, want %d (a part was skipped or read twice)", threads, total, want)
		}
	}
}
