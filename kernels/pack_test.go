package kernels

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/splitup/splitup/ir"
)

func TestPackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, dt := range []ir.DType{ir.F32, ir.F16, ir.BF16, ir.Q8_0} {
		for _, rows := range []int{0, 1, 4, 7, 9, 12} {
			cols := 64
			w := encodeWeights(t, randVec(r, rows*cols), dt)
			p, err := Pack(w, dt, rows, cols)
			if err != nil {
				t.Fatalf("%v rows=%d: %v", dt, rows, err)
			}
			if rows >= 4 && bytes.Equal(p, w) {
				t.Errorf("%v rows=%d: packing changed nothing", dt, rows)
			}
			back, err := Unpack(p, dt, rows, cols)
			if err != nil || !bytes.Equal(back, w) {
				t.Errorf("%v rows=%d: Unpack(Pack(w)) != w (err %v)", dt, rows, err)
			}
			// The tail rows after the last whole quad stay in place.
			tail := rows / 4 * 4 * len(w) / max(rows, 1)
			if !bytes.Equal(p[tail:], w[tail:]) {
				t.Errorf("%v rows=%d: tail rows moved", dt, rows)
			}
		}
	}
	// The first unit of a packed F32 quad is row 0's first 8 elements, the
	// second row 1's.
	w := make([]byte, 4*16*4)
	for i := range w {
		w[i] = byte(i / 4)
	}
	p, _ := Pack(w, ir.F32, 4, 16)
	if p[0] != 0 || p[32] != 16 || p[64] != 32 || p[128] != 8 {
		t.Errorf("packed F32 layout: bytes 0, 32, 64, 128 = %d %d %d %d, want 0 16 32 8", p[0], p[32], p[64], p[128])
	}
	// A packed Q8_0 quad is block 0 of rows 0..3, then block 1 of each.
	q := make([]byte, 4*2*34)
	for i := range q {
		q[i] = byte(i / 34) // block b of row r holds 2r+b
	}
	p, _ = Pack(q, ir.Q8_0, 4, 64)
	for u, want := range []byte{0, 2, 4, 6, 1, 3, 5, 7} {
		if got := p[u*34]; got != want || p[u*34+33] != want {
			t.Errorf("packed Q8_0 layout: unit %d holds block %d, want %d", u, got, want)
		}
	}
}

func TestPackRejects(t *testing.T) {
	for _, c := range []struct {
		dt         ir.DType
		rows, cols int
		n          int
	}{
		{ir.F32, 4, 12, 4 * 12 * 4}, // not a multiple of 8
		{ir.I32, 4, 8, 4 * 8 * 4},   // not a weight type
		{ir.F32, 4, 8, 5},           // wrong length
		{ir.Q8_0, 4, 32, 4*34 + 1},  // wrong length
		{ir.Q4_0, 4, 32, 4 * 18},    // not packed
		{ir.F16, -1, 8, 0},
	} {
		if _, err := Pack(make([]byte, c.n), c.dt, c.rows, c.cols); !errors.Is(err, ir.ErrShape) {
			t.Errorf("Pack %v %d×%d (%d bytes): err %v, want ErrShape", c.dt, c.rows, c.cols, c.n, err)
		}
	}
}

// TestPrepare: Prepare packs what it can, copies the rest, and its copies
// do not share memory with the input.
func TestPrepare(t *testing.T) {
	f := Fast(1)
	defer f.Close()
	for _, c := range []struct {
		dt         ir.DType
		rows, cols int
		packed     bool
	}{
		{ir.F32, 3, 8, false}, // fewer than 4 rows
		{ir.F32, 4, 12, false},
		{ir.Q8_0, 4, 32, true},
		{ir.Q4_0, 8, 64, false},
		{ir.F16, 8, 16, true},
		{ir.F32, 1024, 1024, true}, // 4 MiB: from huge pages on Linux
	} {
		w := make([]byte, c.rows*(c.cols/c.dt.BlockSize())*c.dt.BlockBytes())
		for i := range w {
			w[i] = byte(i * 7)
		}
		got, packed := f.Prepare(w, c.dt, c.rows, c.cols)
		want := w
		if c.packed {
			want, _ = Pack(w, c.dt, c.rows, c.cols)
		}
		if packed != (c.packed && f.simd) || (packed && !bytes.Equal(got, want)) || (!packed && !bytes.Equal(got, w)) {
			t.Errorf("Prepare %v %d×%d: packed %v, want %v; bytes as expected: %v", c.dt, c.rows, c.cols, packed, c.packed, bytes.Equal(got, want))
		}
		w[0]++
		if got[0] == w[0] {
			t.Errorf("Prepare %v %d×%d: the result shares memory with w", c.dt, c.rows, c.cols)
		}
	}
}

// TestPackedMatMul checks that packed weights give the bits of the
// row-major ones, for every kernel variant, token count and tail.
func TestPackedMatMul(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	ks := append(fastVariants(t), variant{"reference", Reference()})
	for _, dt := range []ir.DType{ir.F32, ir.F16, ir.BF16, ir.Q8_0} {
		for _, rows := range []int{4, 7, 37, 300} {
			for _, cols := range []int{8, 32, 40, 64, 72, 96, 256} { // odd and even counts of 8-column units and of blocks
				if cols%dt.BlockSize() != 0 {
					continue
				}
				w := encodeWeights(t, randVec(r, rows*cols), dt)
				p, err := Pack(w, dt, rows, cols)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{1, 2, 3, 5} {
					x := randVec(r, n*cols)
					want := make([]float32, n*rows)
					Reference().MatMul(want, x, n, w, dt, rows, cols)
					for _, v := range ks {
						got := make([]float32, n*rows)
						v.k.(interface {
							MatMuls(x []float32, n, cols int, parts []MatMulPart)
						}).MatMuls(x, n, cols, []MatMulPart{{Out: got, W: p, DType: dt, Rows: rows, Packed: true}})
						requireSame(t, fmt.Sprintf("%s %v %d×%d n=%d", v.name, dt, rows, cols, n), want, got)
					}
				}
			}
		}
	}
}
