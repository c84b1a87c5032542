package ir

import (
	"fmt"
	"strings"
)

// DType is the element type of a tensor. Block-quantised types (Q8_0, Q4_0)
// store elements in blocks of BlockSize elements using the GGUF layout.
type DType uint8

// The element types. The numeric values are part of the canonical graph
// encoding and never change.
const (
	// Invalid is the zero DType; no tensor has it.
	Invalid DType = 0
	// F32 is IEEE-754 binary32, little-endian.
	F32 DType = 1
	// F16 is IEEE-754 binary16, little-endian.
	F16 DType = 2
	// BF16 is bfloat16 (the upper half of a binary32), little-endian.
	BF16 DType = 3
	// Q8_0 is GGUF's Q8_0: blocks of 32 elements, an F16 scale d then 32
	// int8 quants q; element = d * q.
	Q8_0 DType = 4
	// Q4_0 is GGUF's Q4_0: blocks of 32 elements, an F16 scale d then 16
	// bytes; byte j holds element j in its low nibble and element j+16 in
	// its high nibble; element = d * (nibble - 8).
	Q4_0 DType = 5
	// I32 is a little-endian int32 (token ids, positions).
	I32 DType = 6
)

// QBlock is the number of elements in one Q8_0 or Q4_0 block.
const QBlock = 32

var dtypeInfo = [...]struct {
	name       string
	blockElems int
	blockBytes int
}{
	Invalid: {"invalid", 0, 0},
	F32:     {"f32", 1, 4},
	F16:     {"f16", 1, 2},
	BF16:    {"bf16", 1, 2},
	Q8_0:    {"q8_0", QBlock, 2 + QBlock},
	Q4_0:    {"q4_0", QBlock, 2 + QBlock/2},
	I32:     {"i32", 1, 4},
}

// Valid reports whether d is one of the defined element types.
func (d DType) Valid() bool { return d > Invalid && int(d) < len(dtypeInfo) }

// String returns the lower-case name of d ("f32", "q8_0", ...).
func (d DType) String() string {
	if !d.Valid() {
		return fmt.Sprintf("dtype(%d)", uint8(d))
	}
	return dtypeInfo[d].name
}

// BlockSize is the number of elements in one storage block (1 for scalar types).
func (d DType) BlockSize() int {
	if !d.Valid() {
		return 0
	}
	return dtypeInfo[d].blockElems
}

// BlockBytes is the number of bytes one storage block occupies.
func (d DType) BlockBytes() int {
	if !d.Valid() {
		return 0
	}
	return dtypeInfo[d].blockBytes
}

// Quantized reports whether d is a block-quantised type.
func (d DType) Quantized() bool { return d == Q8_0 || d == Q4_0 }

// Float reports whether d holds floating-point values (incl. quantised).
func (d DType) Float() bool { return d.Valid() && d != I32 }

// Bytes returns the storage size of n elements of type d. It fails when d is
// invalid, n is negative, or n is not a whole number of blocks.
func (d DType) Bytes(n int64) (int64, error) {
	if !d.Valid() {
		return 0, fmt.Errorf("%w: %v", ErrDType, d)
	}
	bs := int64(d.BlockSize())
	if n < 0 || n%bs != 0 {
		return 0, fmt.Errorf("%w: %d elements is not a whole number of %v blocks of %d", ErrShape, n, d, bs)
	}
	return n / bs * int64(d.BlockBytes()), nil
}

// ParseDType returns the DType named s (case-insensitive: "f32", "q8_0", ...).
func ParseDType(s string) (DType, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for d := F32; d.Valid(); d++ {
		if dtypeInfo[d].name == l {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("%w: unknown dtype %q (want f32, f16, bf16, q8_0, q4_0 or i32)", ErrDType, s)
}
