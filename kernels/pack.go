package kernels

import (
	"fmt"

	"github.com/splitup/splitup/ir"
)

// The packed layout of a MatMul weight matrix stores each quad of rows
// (4q..4q+3, for q < rows/4) as one run of units: unit u of row 4q, of row
// 4q+1, of 4q+2, of 4q+3, then unit u+1, and so on, where a unit is 8
// elements of an F32, F16 or BF16 row, or one block (32 elements with its
// scale) of a Q8_0 row.
// The rows after the last whole quad stay as they are. It has the bytes of
// the row-major matrix, and a quad occupies the byte range its rows did;
// only the order within a quad changes. The fast kernels then read a quad
// as one sequential stream, which they keep prefetched ahead more easily
// than four interleaved row streams, and compute the same bits. (Q4_0 rows
// are not packed: their kernel, which spends more time per byte, measured
// slower on packed quads than on row-major ones with the next quad
// prefetched.)

// packUnit returns the bytes of one unit of dt, or 0 when rows of cols
// elements of dt cannot be packed (F32, F16 and BF16 rows of a multiple of
// 8 elements can, and Q8_0 rows of whole blocks).
func packUnit(dt ir.DType, cols int) int {
	switch dt {
	case ir.F32, ir.F16, ir.BF16:
		if cols%8 == 0 {
			return 8 * dt.BlockBytes()
		}
	case ir.Q8_0:
		if cols%dt.BlockSize() == 0 {
			return dt.BlockBytes()
		}
	}
	return 0
}

// checkPack validates Pack's operands and returns the unit and row bytes.
func checkPack(w []byte, dt ir.DType, rows, cols int) (unit, rowBytes int, err error) {
	unit = packUnit(dt, cols)
	if rows < 0 || cols <= 0 || unit == 0 || cols%dt.BlockSize() != 0 {
		return 0, 0, fmt.Errorf("kernels: cannot pack %d×%d %v weights: %w", rows, cols, dt, ir.ErrShape)
	}
	rowBytes = cols / dt.BlockSize() * dt.BlockBytes()
	if len(w) != rows*rowBytes {
		return 0, 0, fmt.Errorf("kernels: %d×%d %v weights need %d bytes, have %d: %w", rows, cols, dt, rows*rowBytes, len(w), ir.ErrShape)
	}
	return unit, rowBytes, nil
}

// Pack returns a copy of the row-major rows×cols matrix w of dt in the
// packed layout. It fails for F32, F16 and BF16 rows whose length is not a
// multiple of 8, for Q8_0 rows of a partial block and for dtypes other than
// F32, F16, BF16 and Q8_0.
func Pack(w []byte, dt ir.DType, rows, cols int) ([]byte, error) {
	return pack(w, dt, rows, cols, func(n int) []byte { return make([]byte, n) })
}

// pack is Pack writing into alloc(len(w)).
func pack(w []byte, dt ir.DType, rows, cols int, alloc func(int) []byte) ([]byte, error) {
	unit, rowBytes, err := checkPack(w, dt, rows, cols)
	if err != nil {
		return nil, err
	}
	out := alloc(len(w))
	units := rowBytes / unit
	for q := 0; q < rows/4; q++ {
		base := 4 * q * rowBytes
		for r := 0; r < 4; r++ {
			row := w[base+r*rowBytes : base+(r+1)*rowBytes]
			for u := 0; u < units; u++ {
				copy(out[base+(4*u+r)*unit:base+(4*u+r+1)*unit], row[u*unit:(u+1)*unit])
			}
		}
	}
	tail := rows / 4 * 4 * rowBytes
	copy(out[tail:], w[tail:])
	return out, nil
}

// Unpack inverts Pack: it returns the row-major copy of a packed matrix.
func Unpack(p []byte, dt ir.DType, rows, cols int) ([]byte, error) {
	unit, rowBytes, err := checkPack(p, dt, rows, cols)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(p))
	units := rowBytes / unit
	for q := 0; q < rows/4; q++ {
		base := 4 * q * rowBytes
		for r := 0; r < 4; r++ {
			row := out[base+r*rowBytes : base+(r+1)*rowBytes]
			for u := 0; u < units; u++ {
				copy(row[u*unit:(u+1)*unit], p[base+(4*u+r)*unit:base+(4*u+r+1)*unit])
			}
		}
	}
	tail := rows / 4 * 4 * rowBytes
	copy(out[tail:], p[tail:])
	return out, nil
}

// Prepare returns the copy of the MatMul weights w (rows×cols of dt,
// row-major) that MatMuls reads fastest: in the packed layout when these
// kernels have packed kernels for it (then packed is true, and MatMuls
// takes it with MatMulPart.Packed), otherwise row-major. The copy is on
// transparent huge pages where the system has them, which streams faster
// than 4 KiB pages or a mapped file, and belongs to f: it stays valid while
// f is reachable. w may be released once Prepare returns.
func (f *FastKernels) Prepare(w []byte, dt ir.DType, rows, cols int) (data []byte, packed bool) {
	if f.simd && rows >= 4 {
		if p, err := pack(w, dt, rows, cols, f.mem.alloc); err == nil {
			return p, true
		}
	}
	c := f.mem.alloc(len(w))
	copy(c, w)
	return c, false
}

// mustUnpack returns the row-major form of a part that is packed, for the
// kernels that read rows directly.
func mustUnpack(p MatMulPart, cols int) []byte {
	if !p.Packed {
		return p.W
	}
	w, err := Unpack(p.W, p.DType, p.Rows, cols)
	if err != nil {
		panic(fmt.Sprintf("kernels: packed MatMul weights: %v", err))
	}
	return w
}
