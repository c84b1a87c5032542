package ir

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// TensorMagic opens a tensor frame; TensorVersion follows it.
const (
	TensorMagic   = "SPUT"
	TensorVersion = 1
)

// Frame is a tensor with its full shape (for batched tensors the row count
// comes first) and little-endian data in the layout of its dtype.
type Frame struct {
	// DType is the element type.
	DType DType
	// Shape is the full shape.
	Shape Shape
	// Data holds exactly DType.Bytes(Shape.Elems()) bytes.
	Data []byte
}

// Check reports whether the data length matches dtype and shape.
func (f *Frame) Check() error {
	if !f.DType.Valid() {
		return fmt.Errorf("tensor frame: %w: %v", ErrDType, f.DType)
	}
	if len(f.Shape) > MaxRank {
		return fmt.Errorf("tensor frame: %w: rank %d", ErrTooLarge, len(f.Shape))
	}
	for _, d := range f.Shape {
		if d < 0 {
			return fmt.Errorf("tensor frame: %w: negative dimension in %v", ErrShape, f.Shape)
		}
	}
	e := f.Shape.Elems()
	if e < 0 {
		return fmt.Errorf("tensor frame: %w: %v", ErrTooLarge, f.Shape)
	}
	n, err := f.DType.Bytes(e)
	if err != nil {
		return fmt.Errorf("tensor frame: %w", err)
	}
	if int64(len(f.Data)) != n {
		return fmt.Errorf("tensor frame: %w: %v %v needs %d bytes, has %d", ErrShape, f.DType, f.Shape, n, len(f.Data))
	}
	return nil
}

// Encode returns the canonical frame: magic, version, dtype, rank and dims as
// unsigned varints, then the data. It is the leaf of result commitments.
func (f *Frame) Encode() ([]byte, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	var w bytes.Buffer
	w.Grow(len(f.Data) + 32)
	w.WriteString(TensorMagic)
	w.WriteByte(TensorVersion)
	w.WriteByte(byte(f.DType))
	putShape(&w, f.Shape)
	w.Write(f.Data)
	return w.Bytes(), nil
}

// Hash is the SHA-256 of the canonical frame.
func (f *Frame) Hash() ([32]byte, error) {
	b, err := f.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// DecodeFrame parses a canonical frame whose data is at most maxBytes long.
// The returned Data aliases b.
func DecodeFrame(b []byte, maxBytes int64) (*Frame, error) {
	if len(b) < len(TensorMagic)+2 || string(b[:len(TensorMagic)]) != TensorMagic {
		return nil, fmt.Errorf("decode tensor frame: %w: bad magic", ErrFormat)
	}
	if v := b[len(TensorMagic)]; v != TensorVersion {
		return nil, fmt.Errorf("decode tensor frame: %w: version %d, this build reads %d", ErrFormat, v, TensorVersion)
	}
	f := &Frame{DType: DType(b[len(TensorMagic)+1])}
	r := &reader{b: b[len(TensorMagic)+2:]}
	n := r.count(MaxRank, 1)
	f.Shape = make(Shape, n)
	for i := range f.Shape {
		f.Shape[i] = int(r.uvarint(uint64(MaxElems)))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode tensor frame: %w", r.err)
	}
	f.Data = r.b
	if int64(len(f.Data)) > maxBytes {
		return nil, fmt.Errorf("decode tensor frame: %w: %d data bytes > limit %d", ErrTooLarge, len(f.Data), maxBytes)
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	var canon bytes.Buffer
	putShape(&canon, f.Shape)
	if !bytes.Equal(canon.Bytes(), b[len(TensorMagic)+2:len(b)-len(f.Data)]) {
		return nil, fmt.Errorf("decode tensor frame: %w: shape not in canonical form", ErrFormat)
	}
	return f, nil
}

// FrameHeaderLen returns the length of the frame header for a shape, so a
// streaming reader can size its buffer before reading the data.
func FrameHeaderLen(s Shape) int {
	n := len(TensorMagic) + 2 + binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(len(s)))
	for _, d := range s {
		n += binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(d))
	}
	return n
}
