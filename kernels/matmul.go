package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/splitup/splitup/ir"
)

// MatMul implements [Kernels]. Output rows are split into grains of about
// equal bytes, each thread taking a contiguous range of them; each output is
// one canonical dot product.
func (f *FastKernels) MatMul(out, x []float32, n int, w []byte, dt ir.DType, rows, cols int) {
	checkMatMul(out, x, n, w, dt, rows, cols)
	parts := [1]MatMulPart{{Out: out, W: w, DType: dt, Rows: rows}}
	f.matMuls(x, n, cols, parts[:])
}

// MatMulPart is one weight matrix of a MatMuls call and its output: Rows
// rows of the call's cols elements of type DType, and Out with n*Rows
// elements.
type MatMulPart struct {
	Out   []float32
	W     []byte
	DType ir.DType
	Rows  int
	// Packed says W is in the packed layout (see Pack); the outputs are
	// those of the row-major matrix.
	Packed bool
}

// MatMuls computes MatMul(p.Out, x, n, p.W, p.DType, p.Rows, cols) for every
// part p as one parallel loop, quantising x once for all quantised parts.
// The bits of every output are those of the separate MatMul calls.
func (f *FastKernels) MatMuls(x []float32, n, cols int, parts []MatMulPart) {
	for _, p := range parts {
		checkMatMul(p.Out, x, n, p.W, p.DType, p.Rows, cols)
		if p.Packed && packUnit(p.DType, cols) == 0 {
			panic(fmt.Sprintf("kernels: MatMul weights of %v with %d columns are never packed", p.DType, cols))
		}
	}
	f.matMuls(x, n, cols, parts)
}

// MatMuls computes MatMul(p.Out, x, n, p.W, p.DType, p.Rows, cols) for every
// part p.
func (r reference) MatMuls(x []float32, n, cols int, parts []MatMulPart) {
	for _, p := range parts {
		r.MatMul(p.Out, x, n, mustUnpack(p, cols), p.DType, p.Rows, cols)
	}
}

func (f *FastKernels) matMuls(x []float32, n, cols int, parts []MatMulPart) {
	if n == 0 {
		return
	}
	if cols == 0 {
		for _, p := range parts {
			clear(p.Out)
		}
		return
	}
	ms := make([]matmul, 0, len(parts))
	first := make([]int, 1, len(parts)+1) // first[i]: the first grain of ms[i]
	quant := false
	var work int64
	for _, p := range parts {
		if p.Rows == 0 {
			continue
		}
		m := matmul{
			simd: f.simd, out: p.Out, x: x, n: n, w: p.W, dt: p.DType, rows: p.Rows, cols: cols,
			rowBytes: cols / p.DType.BlockSize() * p.DType.BlockBytes(), packed: p.Packed,
		}
		if m.packed && !m.simd {
			m.w, m.packed = mustUnpack(p, cols), false
		}
		m.grain = max(4, (48<<10)/m.rowBytes&^3)
		ms = append(ms, m)
		first = append(first, first[len(first)-1]+(p.Rows+m.grain-1)/m.grain)
		quant = quant || p.DType.Quantized()
		work += int64(n) * int64(p.Rows) * int64(cols)
	}
	if len(ms) == 0 {
		return
	}
	if quant {
		buf := getQ8Buf(n * cols)
		defer q8Bufs.Put(buf)
		nb := cols / ir.QBlock
		f.pool.run(n, int64(n)*int64(cols)*4, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				quantizeRowQ8(f.simd, buf.qx[t*cols:(t+1)*cols], buf.dx[t*nb:(t+1)*nb], x[t*cols:(t+1)*cols])
			}
		})
		for i := range ms {
			ms[i].qx, ms[i].dx = buf.qx, buf.dx
		}
	}
	f.pool.runGrains(first[len(first)-1], work, func(g int) {
		i := 0
		for g >= first[i+1] {
			i++
		}
		m := &ms[i]
		r0 := (g - first[i]) * m.grain
		m.run(r0, min(r0+m.grain, m.rows))
	})
}

// quantizeRowQ8 is QuantizeRowQ8, with the AVX2 kernel doing the blocks it
// can.
func quantizeRowQ8(simd bool, qx []int8, dx []float32, x []float32) {
	for b := 0; b < len(dx); {
		if simd {
			b += quantQ8AVX(&x[b*ir.QBlock], &qx[b*ir.QBlock], &dx[b], len(dx)-b)
			if b == len(dx) {
				return
			}
		}
		QuantizeRowQ8(qx[b*ir.QBlock:(b+1)*ir.QBlock], dx[b:b+1], x[b*ir.QBlock:(b+1)*ir.QBlock])
		b++
	}
}

// q8Buf holds a batch of activation rows quantised by QuantizeRowQ8.
type q8Buf struct {
	qx []int8
	dx []float32
}

var q8Bufs sync.Pool

func getQ8Buf(elems int) *q8Buf {
	b, _ := q8Bufs.Get().(*q8Buf)
	if b == nil || cap(b.qx) < elems {
		b = &q8Buf{qx: make([]int8, elems), dx: make([]float32, elems/ir.QBlock)}
	}
	b.qx, b.dx = b.qx[:elems], b.dx[:elems/ir.QBlock]
	return b
}

// matmul is one MatMul call's operands.
type matmul struct {
	simd       bool
	out, x     []float32
	n          int
	w          []byte
	dt         ir.DType
	rows, cols int
	rowBytes   int
	grain      int       // rows per grain of the parallel loop (a multiple of 4)
	qx         []int8    // x quantised, for Q8_0/Q4_0 weights
	dx         []float32 // the block scales of qx
	packed     bool      // w is in the packed layout (only with simd)
}

// run computes output rows [r0, r1) (r0 a multiple of 4) for all tokens.
// Rows are taken in chunks that stay in cache while every token passes over
// them. Within a chunk the SIMD kernels take whole quads of rows and two
// tokens at a time, so each weight load serves both; rows left over, and
// rows whose length is not a multiple of 8, go through quad.
func (m *matmul) run(r0, r1 int) {
	chunk := m.grain
	var acc [4][8]float32
	whole := m.simd && (m.dt.Quantized() || m.cols%8 == 0)
	for rc := r0; rc < r1; rc += chunk {
		re := min(rc+chunk, r1)
		nq := 0
		if whole {
			nq = (re - rc) / 4
		}
		if nq > 0 {
			m.rowsSIMD(rc, nq)
		}
		for t := 0; t < m.n; t++ {
			for r := rc + 4*nq; r < re; r += 4 {
				m.quad(r, re, t, &acc)
			}
		}
	}
}

// shortRow is the row size in bytes below which the unquantised Rows
// kernels prefetch the next quad of rows (RowsNQ) rather than each row
// ahead (RowsW).
const shortRow = 4096

// rowsSIMD computes rows [rc, rc+4*nq) for all tokens with the Rows kernels.
func (m *matmul) rowsSIMD(rc, nq int) {
	if m.packed {
		m.rowsPacked(rc, nq)
		return
	}
	w, stride, cols, rows := m.wptr(rc), m.rowBytes, m.cols, m.rows
	if m.dt.Quantized() {
		nb := cols / ir.QBlock
		kern, kern2 := q8Rows, q8Rows2
		if m.dt == ir.Q4_0 {
			kern, kern2 = q4Rows, q4Rows2
		}
		t := 0
		for ; t+2 <= m.n; t += 2 {
			kern2(w, stride, &m.qx[t*cols], &m.qx[(t+1)*cols], &m.dx[t*nb], &m.dx[(t+1)*nb], nb, nq,
				&m.out[t*rows+rc], &m.out[(t+1)*rows+rc])
		}
		if t < m.n {
			kern(w, stride, &m.qx[t*cols], &m.dx[t*nb], nb, nq, &m.out[t*rows+rc])
		}
		return
	}
	rows1, rows1W, rows2 := f32RowsNQ, f32RowsW, f32Rows2
	switch m.dt {
	case ir.F16:
		rows1, rows1W, rows2 = f16RowsNQ, f16RowsW, f16Rows2
	case ir.BF16:
		rows1, rows1W, rows2 = bf16RowsNQ, bf16RowsW, bf16Rows2
	}
	if stride >= shortRow {
		rows1 = rows1W
	}
	t := 0
	for ; t+2 <= m.n; t += 2 {
		rows2(w, stride, &m.x[t*cols], &m.x[(t+1)*cols], cols/8, nq, &m.out[t*rows+rc], &m.out[(t+1)*rows+rc])
	}
	if t < m.n {
		rows1(w, stride, &m.x[t*cols], cols/8, nq, &m.out[t*rows+rc])
	}
}

// rowsPacked is rowsSIMD on the packed layout: quad q of the matrix lies
// where its rows would, so the quads from row rc start at wptr(rc).
func (m *matmul) rowsPacked(rc, nq int) {
	w, cols, rows := m.wptr(rc), m.cols, m.rows
	t := 0
	if m.dt == ir.Q8_0 {
		nb := cols / ir.QBlock
		for ; t+2 <= m.n; t += 2 {
			q8RowsP2(w, &m.qx[t*cols], &m.qx[(t+1)*cols], &m.dx[t*nb], &m.dx[(t+1)*nb], nb, nq,
				&m.out[t*rows+rc], &m.out[(t+1)*rows+rc])
		}
		if t < m.n {
			q8RowsP(w, &m.qx[t*cols], &m.dx[t*nb], nb, nq, &m.out[t*rows+rc])
		}
		return
	}
	kern, kern2 := f32RowsP, f32RowsP2
	switch m.dt {
	case ir.F16:
		kern, kern2 = f16RowsP, f16RowsP2
	case ir.BF16:
		kern, kern2 = bf16RowsP, bf16RowsP2
	}
	for ; t+2 <= m.n; t += 2 {
		kern2(w, &m.x[t*cols], &m.x[(t+1)*cols], cols/8, nq, &m.out[t*rows+rc], &m.out[(t+1)*rows+rc])
	}
	if t < m.n {
		kern(w, &m.x[t*cols], cols/8, nq, &m.out[t*rows+rc])
	}
}

// quadRows returns the indices of rows r..r+3, repeating the last row
// below re where the chunk ends.
func quadRows(r, re int) [4]int {
	return [4]int{r, min(r+1, re-1), min(r+2, re-1), min(r+3, re-1)}
}

func (m *matmul) wrow(i int) []byte { return m.w[i*m.rowBytes : (i+1)*m.rowBytes] }

func (m *matmul) wptr(i int) unsafe.Pointer { return unsafe.Pointer(&m.w[i*m.rowBytes]) }

// quad computes the outputs of token t for rows r..r+3 (those below re).
func (m *matmul) quad(r, re, t int, acc *[4][8]float32) {
	idx := quadRows(r, re)
	cols := m.cols
	xt := m.x[t*cols : (t+1)*cols]
	if m.dt.Quantized() {
		nb := cols / ir.QBlock
		qx, dx := m.qx[t*cols:(t+1)*cols], m.dx[t*nb:(t+1)*nb]
		if m.simd {
			p := [4]unsafe.Pointer{m.wptr(idx[0]), m.wptr(idx[1]), m.wptr(idx[2]), m.wptr(idx[3])}
			if m.dt == ir.Q8_0 {
				q8Dot4(&p, &qx[0], &dx[0], nb, acc)
			} else {
				q4Dot4(&p, &qx[0], &dx[0], nb, acc)
			}
		} else {
			w := [4][]byte{m.wrow(idx[0]), m.wrow(idx[1]), m.wrow(idx[2]), m.wrow(idx[3])}
			goQDot4(m.dt, &w, qx, dx, acc)
		}
		for i := 0; i < 4 && r+i < re; i++ {
			m.out[t*m.rows+r+i] = tree8(&acc[i])
		}
		return
	}
	n8 := cols / 8
	if m.simd && n8 > 0 {
		p := [4]unsafe.Pointer{m.wptr(idx[0]), m.wptr(idx[1]), m.wptr(idx[2]), m.wptr(idx[3])}
		floatDot4(m.dt, &p, &xt[0], n8, acc)
	} else {
		w := [4][]byte{m.wrow(idx[0]), m.wrow(idx[1]), m.wrow(idx[2]), m.wrow(idx[3])}
		goDot4(m.dt, &w, xt, n8, acc)
	}
	for i := 0; i < 4 && r+i < re; i++ {
		m.out[t*m.rows+r+i] = finishDot(&acc[i], m.dt, m.wrow(idx[i]), xt, n8*8)
	}
}

// welem returns element i of an F32, F16 or BF16 row.
func welem(dt ir.DType, w []byte, i int) float32 {
	switch dt {
	case ir.F32:
		return math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))
	case ir.F16:
		return F16ToF32(binary.LittleEndian.Uint16(w[2*i:]))
	default:
		return BF16ToF32(binary.LittleEndian.Uint16(w[2*i:]))
	}
}

// finishDot adds the elements from (a multiple of 8) on to the lanes and
// returns their canonical sum.
func finishDot(l *[8]float32, dt ir.DType, w []byte, x []float32, from int) float32 {
	for i := from; i < len(x); i++ {
		l[i-from] += float32(welem(dt, w, i) * x[i])
	}
	return tree8(l)
}

// goDot4 is the portable block kernel for F32, F16 and BF16 weights: the 8
// lane sums of 4 rows over the first n8*8 elements.
func goDot4(dt ir.DType, w *[4][]byte, x []float32, n8 int, acc *[4][8]float32) {
	for r := range w {
		acc[r] = goLanes(dt, w[r], x[:n8*8])
	}
}

// goLanes returns the 8 lane sums of the canonical dot product of weight
// row w with x (len(x) a multiple of 8).
func goLanes(dt ir.DType, w []byte, x []float32) [8]float32 {
	var l0, l1, l2, l3, l4, l5, l6, l7 float32
	size := dt.BlockBytes()
	w = w[:len(x)*size]
	for i := 0; i+8 <= len(x); i += 8 {
		xs := x[i : i+8 : i+8]
		ws := w[i*size : (i+8)*size : (i+8)*size]
		switch dt {
		case ir.F32:
			l0 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[0:])) * xs[0])
			l1 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[4:])) * xs[1])
			l2 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[8:])) * xs[2])
			l3 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[12:])) * xs[3])
			l4 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[16:])) * xs[4])
			l5 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[20:])) * xs[5])
			l6 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[24:])) * xs[6])
			l7 += float32(math.Float32frombits(binary.LittleEndian.Uint32(ws[28:])) * xs[7])
		case ir.F16:
			l0 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[0:])) * xs[0])
			l1 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[2:])) * xs[1])
			l2 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[4:])) * xs[2])
			l3 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[6:])) * xs[3])
			l4 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[8:])) * xs[4])
			l5 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[10:])) * xs[5])
			l6 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[12:])) * xs[6])
			l7 += float32(F16ToF32(binary.LittleEndian.Uint16(ws[14:])) * xs[7])
		default:
			l0 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[0:])) * xs[0])
			l1 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[2:])) * xs[1])
			l2 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[4:])) * xs[2])
			l3 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[6:])) * xs[3])
			l4 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[8:])) * xs[4])
			l5 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[10:])) * xs[5])
			l6 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[12:])) * xs[6])
			l7 += float32(BF16ToF32(binary.LittleEndian.Uint16(ws[14:])) * xs[7])
		}
	}
	return [8]float32{l0, l1, l2, l3, l4, l5, l6, l7}
}

// goQDot4 is the portable block kernel for Q8_0 and Q4_0 weights: the 8
// lane sums of 4 rows over all blocks.
func goQDot4(dt ir.DType, w *[4][]byte, qx []int8, dx []float32, acc *[4][8]float32) {
	bb := dt.BlockBytes()
	var qw [ir.QBlock]int32
	for r := range w {
		var l [8]float32
		for b := range dx {
			blk := w[r][b*bb : (b+1)*bb]
			if dt == ir.Q8_0 {
				for j := range qw {
					qw[j] = int32(int8(blk[2+j]))
				}
			} else {
				for j := 0; j < ir.QBlock/2; j++ {
					qw[j] = int32(blk[2+j]&0xf) - 8
					qw[j+ir.QBlock/2] = int32(blk[2+j]>>4) - 8
				}
			}
			s := F16ToF32(binary.LittleEndian.Uint16(blk)) * dx[b]
			q := qx[b*ir.QBlock : (b+1)*ir.QBlock]
			for lane := range l {
				j := 4 * lane
				sum := qw[j]*int32(q[j]) + qw[j+1]*int32(q[j+1]) + qw[j+2]*int32(q[j+2]) + qw[j+3]*int32(q[j+3])
				l[lane] += float32(s * float32(sum))
			}
		}
		acc[r] = l
	}
}

// dot4F32Slices is the f32 block kernel on float32 rows (attention scores).
func dot4F32Slices(simd bool, rows *[4][]float32, x []float32, n8 int, acc *[4][8]float32) {
	if simd && n8 > 0 {
		p := [4]unsafe.Pointer{
			unsafe.Pointer(&rows[0][0]), unsafe.Pointer(&rows[1][0]),
			unsafe.Pointer(&rows[2][0]), unsafe.Pointer(&rows[3][0]),
		}
		f32Dot4(&p, &x[0], n8, acc)
		return
	}
	for r := range rows {
		var l [8]float32
		for i := 0; i < n8*8; i++ {
			l[i%8] += float32(rows[r][i] * x[i])
		}
		acc[r] = l
	}
}

// floatDot4 dispatches to the assembly kernel for dt.
func floatDot4(dt ir.DType, p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32) {
	switch dt {
	case ir.F32:
		f32Dot4(p, x, n8, acc)
	case ir.F16:
		f16Dot4(p, x, n8, acc)
	default:
		bf16Dot4(p, x, n8, acc)
	}
}
