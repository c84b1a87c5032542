package kernels

import (
	"fmt"

	"github.com/splitup/splitup/ir"
)

// The packed layout of a MatMul weight matrix stores each quad of rows
// (4q..4q+3, for q < rows/4) as one run of units: unit u of row 4q, of row
// 4q+1, of 4q+2, of 4q+3, then unit u+1, and so on, where a unit is 8
// elements of an F32, F16 or BF16 row.
// The rows after the last whole quad stay as they are. It has the bytes of
// the row-major matrix, and a quad occupies the byte range its rows did;
// only the order within a quad changes. The fast kernels then read a quad
// as one sequential stream, which the hardware prefetcher follows better
// than four interleaved row streams, and compute the same bits. (Q8_0 and
// Q4_0 rows are not packed: their kernels spend enough time per byte that
// the row-major layout with a software prefetch of the next quad streams
// as fast.)

// packUnit returns the bytes of one unit of dt, or 0 when rows of cols
// elements of dt cannot be packed (F32, F16 and BF16 rows of a multiple of
// 8 elements can).
func packUnit(dt ir.DType, cols int) int {
	switch dt {
	case ir.F32, ir.F16, ir.BF16:
		if cols%8 == 0 {
			return 8 * dt.BlockBytes()
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
// packed layout. It fails for rows whose length is not a multiple of 8 and
// for dtypes other than F32, F16 and BF16.
func Pack(w []byte, dt ir.DType, rows, cols int) ([]byte, error) {
	unit, rowBytes, err := checkPack(w, dt, rows, cols)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(w))
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

// Pack returns w in the packed layout when these kernels have packed
// kernels for it (the assembly kernels are in use and Pack accepts it), and
// false otherwise; MatMuls then takes the result with MatMulPart.Packed.
func (f *FastKernels) Pack(w []byte, dt ir.DType, rows, cols int) ([]byte, bool) {
	if !f.simd || rows < 4 {
		return nil, false
	}
	p, err := Pack(w, dt, rows, cols)
	return p, err == nil
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
