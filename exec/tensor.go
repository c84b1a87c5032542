package exec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/splitup/splitup/ir"
)

// Tensor is a dense f32 or i32 tensor with its full shape (rows first for
// batched tensors). Exactly one of F32 and I32 is used, as DType says.
type Tensor struct {
	// DType is ir.F32 or ir.I32.
	DType ir.DType
	// Shape is the full shape.
	Shape ir.Shape
	// F32 holds the elements of an f32 tensor.
	F32 []float32
	// I32 holds the elements of an i32 tensor.
	I32 []int32
}

// Rows returns the leading dimension.
func (t Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[0]
}

// Len returns the number of elements stored.
func (t Tensor) Len() int {
	if t.DType == ir.I32 {
		return len(t.I32)
	}
	return len(t.F32)
}

// Row returns a view of row i of an f32 tensor.
func (t Tensor) Row(i int) []float32 {
	w := len(t.F32) / t.Rows()
	return t.F32[i*w : (i+1)*w]
}

// Frame returns the canonical ir.Frame of t (little-endian data).
func (t Tensor) Frame() *ir.Frame {
	f := &ir.Frame{DType: t.DType, Shape: t.Shape.Clone(), Data: make([]byte, 4*t.Len())}
	if t.DType == ir.I32 {
		for i, v := range t.I32 {
			binary.LittleEndian.PutUint32(f.Data[4*i:], uint32(v))
		}
		return f
	}
	for i, v := range t.F32 {
		binary.LittleEndian.PutUint32(f.Data[4*i:], math.Float32bits(v))
	}
	return f
}

// FromFrame converts an f32 or i32 frame into a Tensor.
func FromFrame(f *ir.Frame) (Tensor, error) {
	if err := f.Check(); err != nil {
		return Tensor{}, err
	}
	t := Tensor{DType: f.DType, Shape: f.Shape.Clone()}
	n := len(f.Data) / 4
	switch f.DType {
	case ir.F32:
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(f.Data[4*i:]))
		}
	case ir.I32:
		t.I32 = make([]int32, n)
		for i := range t.I32 {
			t.I32[i] = int32(binary.LittleEndian.Uint32(f.Data[4*i:]))
		}
	default:
		return Tensor{}, fmt.Errorf("tensor frame of %v: only f32 and i32 activations are supported", f.DType)
	}
	return t, nil
}

// I32s returns a [len(v)] i32 tensor (one scalar per row), e.g. token ids.
func I32s(v ...int32) Tensor {
	return Tensor{DType: ir.I32, Shape: ir.Shape{len(v)}, I32: append([]int32(nil), v...)}
}

// Weights binds weight names to data: an ir.Frame per weight, in the
// storage layout of its dtype.
type Weights interface {
	// Weight returns the named weight, or ok=false when there is none.
	Weight(name string) (w *ir.Frame, ok bool)
}

// WeightMap is a Weights backed by a map.
type WeightMap map[string]*ir.Frame

// Weight implements Weights.
func (m WeightMap) Weight(name string) (*ir.Frame, bool) {
	w, ok := m[name]
	return w, ok
}
