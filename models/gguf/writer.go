package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Version is the GGUF version the Writer produces.
const Version = 3

// Writer writes a GGUF version 3 file: header, metadata in the order added,
// tensor infos in the order added, then the tensor data, each tensor aligned
// to general.alignment (32 by default) and padded with zeros.
type Writer struct {
	w         *bufio.Writer
	kvs       []KV
	keys      map[string]bool
	tensors   []TensorInfo
	names     map[string]bool
	alignment uint64
	started   bool
	next      int    // index of the next tensor WriteTensor expects
	written   uint64 // bytes written into the data section
	err       error
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{
		w:         bufio.NewWriterSize(w, 1<<20),
		keys:      map[string]bool{},
		names:     map[string]bool{},
		alignment: DefaultAlignment,
	}
}

// AddMetadata appends a key/value pair. general.alignment must be a uint32
// power of two; it sets the data alignment.
func (w *Writer) AddMetadata(key string, v Value) error {
	if w.started {
		return fmt.Errorf("gguf writer: AddMetadata(%q) after WriteHeader", key)
	}
	if w.keys[key] {
		return fmt.Errorf("gguf writer: duplicate key %q", key)
	}
	if err := v.check(0); err != nil {
		return fmt.Errorf("gguf writer: key %q: %w", key, err)
	}
	if key == KeyAlignment {
		a, ok := v.Data.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 || a > maxAlignment {
			return fmt.Errorf("gguf writer: %w: %s = %v (want a uint32 power of two up to %d)", ErrFormat, key, v, maxAlignment)
		}
		w.alignment = uint64(a)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, KV{key, v})
	return nil
}

// AddTensor appends a tensor info; dims are fastest-varying first. The
// tensor's offset is assigned by WriteHeader.
func (w *Writer) AddTensor(name string, typ GGMLType, dims []uint64) error {
	if w.started {
		return fmt.Errorf("gguf writer: AddTensor(%q) after WriteHeader", name)
	}
	if w.names[name] {
		return fmt.Errorf("gguf writer: duplicate tensor %q", name)
	}
	size, err := TensorSize(typ, dims)
	if err != nil {
		return fmt.Errorf("gguf writer: tensor %q: %w", name, err)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: typ, Size: size})
	return nil
}

// Tensors returns the tensor infos added so far, with offsets once
// WriteHeader has run.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// WriteHeader assigns tensor offsets and writes the header, the metadata and
// the tensor infos.
func (w *Writer) WriteHeader() error {
	if w.started {
		return fmt.Errorf("gguf writer: WriteHeader called twice")
	}
	w.started = true
	off := uint64(0)
	for i := range w.tensors {
		w.tensors[i].Offset = off
		off = alignUp(off+w.tensors[i].Size, w.alignment)
	}
	e := encoder{w: w.w}
	e.bytes([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	for _, t := range w.tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	e.pad(w.alignment)
	if e.err != nil {
		w.err = fmt.Errorf("gguf writer: write header: %w", e.err)
	}
	return w.err
}

// WriteTensor writes the data of the next tensor, which must be called name
// and have exactly its Size bytes. Tensors are written in the order added.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if !w.started {
		return fmt.Errorf("gguf writer: WriteTensor(%q) before WriteHeader", name)
	}
	if w.next >= len(w.tensors) || w.tensors[w.next].Name != name {
		return fmt.Errorf("gguf writer: WriteTensor(%q) out of order", name)
	}
	t := w.tensors[w.next]
	if uint64(len(data)) != t.Size {
		return fmt.Errorf("gguf writer: tensor %q: %d bytes of data, want %d", name, len(data), t.Size)
	}
	e := encoder{w: w.w, n: w.written}
	e.bytes(data)
	e.pad(w.alignment)
	w.written = e.n
	w.next++
	if e.err != nil {
		w.err = fmt.Errorf("gguf writer: tensor %q: %w", name, e.err)
	}
	return w.err
}

// Close checks that every tensor was written and flushes the output. It
// does not close the underlying io.Writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if !w.started {
		if err := w.WriteHeader(); err != nil {
			return err
		}
	}
	if w.next != len(w.tensors) {
		return fmt.Errorf("gguf writer: %d of %d tensors written", w.next, len(w.tensors))
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("gguf writer: flush: %w", err)
	}
	return nil
}

// Encode writes f as a GGUF version 3 file to dst: the same metadata, in
// order, and the same tensors, in order, laid out contiguously.
func Encode(dst io.Writer, f *File) error {
	w := NewWriter(dst)
	for _, kv := range f.Metadata {
		if err := w.AddMetadata(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	for _, t := range f.Tensors {
		if err := w.AddTensor(t.Name, t.Type, t.Dims); err != nil {
			return err
		}
	}
	if err := w.WriteHeader(); err != nil {
		return err
	}
	for _, t := range f.Tensors {
		data, err := f.TensorData(t.Name)
		if err != nil {
			return err
		}
		if err := w.WriteTensor(t.Name, data); err != nil {
			return err
		}
	}
	return w.Close()
}

// encoder writes little-endian fields, remembering the first error and the
// number of bytes written.
type encoder struct {
	w   io.Writer
	n   uint64
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += uint64(n)
	e.err = err
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.bytes(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		n, err := io.WriteString(e.w, s)
		e.n += uint64(n)
		e.err = err
	}
}

func (e *encoder) pad(a uint64) {
	var zeros [256]byte
	for p := alignUp(e.n, a) - e.n; p > 0; {
		k := min(p, uint64(len(zeros)))
		e.bytes(zeros[:k])
		p -= k
	}
}

func (e *encoder) value(v Value) {
	switch x := v.Data.(type) {
	case Array:
		e.array(x)
	case string:
		e.str(x)
	default:
		e.scalar(x)
	}
}

func (e *encoder) scalar(x any) {
	switch x := x.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		panic(fmt.Sprintf("gguf: encode unchecked value of type %T", x))
	}
}

func (e *encoder) array(a Array) {
	e.u32(uint32(a.Elem))
	e.u64(uint64(a.Len()))
	switch vs := a.Values.(type) {
	case []string:
		for _, s := range vs {
			e.str(s)
		}
	case []Array:
		for _, in := range vs {
			e.array(in)
		}
	case []uint8:
		e.bytes(vs)
	default:
		eachScalar(a.Values, e.scalar)
	}
}

func eachScalar(vs any, f func(any)) {
	switch vs := vs.(type) {
	case []int8:
		for _, v := range vs {
			f(v)
		}
	case []bool:
		for _, v := range vs {
			f(v)
		}
	case []uint16:
		for _, v := range vs {
			f(v)
		}
	case []int16:
		for _, v := range vs {
			f(v)
		}
	case []uint32:
		for _, v := range vs {
			f(v)
		}
	case []int32:
		for _, v := range vs {
			f(v)
		}
	case []float32:
		for _, v := range vs {
			f(v)
		}
	case []uint64:
		for _, v := range vs {
			f(v)
		}
	case []int64:
		for _, v := range vs {
			f(v)
		}
	case []float64:
		for _, v := range vs {
			f(v)
		}
	}
}
