package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Shape lists the dimensions of a tensor, outermost first. For Input and
// Value tensors it is the shape of one row; the batch dimension is implicit.
type Shape []int

// Elems returns the number of elements (1 for the empty shape). It returns -1
// when a dimension is negative or the product overflows MaxElems.
func (s Shape) Elems() int64 {
	n := int64(1)
	for _, d := range s {
		if d < 0 || (d > 0 && n > MaxElems/int64(d)) {
			return -1
		}
		n *= int64(d)
	}
	return n
}

// Equal reports whether s and t have the same dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Last returns the innermost dimension (1 for the empty shape).
func (s Shape) Last() int {
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// String formats s as "[2 3]".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Limits of the IR. Verify and the decoders reject anything larger.
const (
	// MaxElems caps the element count of one tensor (2^40).
	MaxElems = int64(1) << 40
	// MaxRank caps the number of dimensions.
	MaxRank = 8
	// MaxTensors caps the number of tensors in one graph.
	MaxTensors = 1 << 20
	// MaxName caps the length of a tensor or output name in bytes.
	MaxName = 256
)

func checkShape(s Shape) error {
	if len(s) > MaxRank {
		return fmt.Errorf("%w: rank %d > %d", ErrTooLarge, len(s), MaxRank)
	}
	for _, d := range s {
		if d <= 0 {
			return fmt.Errorf("%w: dimension %d in %v must be positive", ErrShape, d, s)
		}
	}
	if s.Elems() < 0 {
		return fmt.Errorf("%w: %v has more than %d elements", ErrTooLarge, s, MaxElems)
	}
	return nil
}
