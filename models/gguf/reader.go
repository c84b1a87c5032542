package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// File is a parsed GGUF file: header, metadata and tensor infos. Tensor data
// stays in the underlying reader until TensorData asks for it.
type File struct {
	// Version is the GGUF version of the file (1, 2 or 3).
	Version uint32
	// Metadata lists the key/value pairs in file order.
	Metadata []KV
	// Tensors lists the tensor infos in file order.
	Tensors []TensorInfo
	// Alignment is the data alignment in bytes (general.alignment or 32).
	Alignment uint64
	// DataOffset is the absolute file offset of the data section.
	DataOffset uint64

	r      io.ReaderAt
	size   int64
	closer io.Closer
	kvs    map[string]int
	tensor map[string]int
}

// Open opens and parses the GGUF file at path. Close it when done.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.closer = fh
	return f, nil
}

// Read parses a GGUF file of size bytes from r. The returned File reads
// tensor data from r, which must stay valid while the File is used.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("read gguf: %w: negative size", ErrFormat)
	}
	d := &decoder{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), size: size}
	f := &File{r: r, size: size, Alignment: DefaultAlignment}
	nTensors, nKV, err := d.header(f)
	if err != nil {
		return nil, fmt.Errorf("read gguf header: %w", err)
	}
	if err := d.metadata(f, nKV); err != nil {
		return nil, fmt.Errorf("read gguf metadata: %w", err)
	}
	if err := d.tensorInfos(f, nTensors); err != nil {
		return nil, fmt.Errorf("read gguf tensor infos: %w", err)
	}
	if err := f.layout(uint64(d.off)); err != nil {
		return nil, fmt.Errorf("read gguf data layout: %w", err)
	}
	return f, nil
}

// Close closes the file opened by Open; it does nothing for a File from Read.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// decoder reads the header part of a file, tracking how many bytes remain.
type decoder struct {
	br   *bufio.Reader
	off  int64
	size int64
	wide bool // versions 2+: 64-bit counts and lengths
	buf  [8]byte
}

func (d *decoder) remaining() int64 { return d.size - d.off }

func (d *decoder) fixed(n int) ([]byte, error) {
	if int64(n) > d.remaining() {
		return nil, fmt.Errorf("%w: truncated at byte %d", ErrFormat, d.off)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.br, b); err != nil {
		return nil, fmt.Errorf("%w: at byte %d: %v", ErrFormat, d.off, err)
	}
	d.off += int64(n)
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.fixed(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.fixed(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.fixed(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.fixed(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// word reads a count or length: 32 bits in version 1, 64 bits after.
func (d *decoder) word() (uint64, error) {
	if d.wide {
		return d.u64()
	}
	v, err := d.u32()
	return uint64(v), err
}

func (d *decoder) wordSize() int64 {
	if d.wide {
		return 8
	}
	return 4
}

// count reads a count or length of items that each take at least minBytes
// bytes and checks it against limit and the bytes left in the file.
func (d *decoder) count(what string, limit uint64, minBytes int64) (int, error) {
	n, err := d.word()
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("%w: %s %d exceeds the cap %d", ErrTooLarge, what, n, limit)
	}
	if minBytes > 0 && n > uint64(d.remaining()/minBytes) {
		return 0, fmt.Errorf("%w: %s %d does not fit in the %d bytes left", ErrTooLarge, what, n, d.remaining())
	}
	return int(n), nil
}

func (d *decoder) str(what string, limit uint64) (string, error) {
	n, err := d.count(what+" length", limit, 1)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.br, b); err != nil {
		return "", fmt.Errorf("%w: %s at byte %d: %v", ErrFormat, what, d.off, err)
	}
	d.off += int64(n)
	return string(b), nil
}

func (d *decoder) header(f *File) (nTensors, nKV int, err error) {
	b, err := d.fixed(4)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: file too short", ErrMagic)
	}
	if string(b) != Magic {
		return 0, 0, fmt.Errorf("%w: got %q", ErrMagic, b)
	}
	if f.Version, err = d.u32(); err != nil {
		return 0, 0, err
	}
	if f.Version < 1 || f.Version > 3 {
		return 0, 0, fmt.Errorf("%w: %d (want 1, 2 or 3)", ErrVersion, f.Version)
	}
	d.wide = f.Version >= 2
	// Minimum encoded sizes: a tensor info is a name length, n_dims, one
	// dim, type and offset; a pair is a key length, a type and one byte.
	minTensor := d.wordSize()*2 + 4 + 4 + 8
	minKV := d.wordSize() + 4 + 1
	if nTensors, err = d.count("tensor count", maxTensors, 0); err != nil {
		return 0, 0, err
	}
	if nKV, err = d.count("metadata count", maxKV, 0); err != nil {
		return 0, 0, err
	}
	if int64(nTensors)*minTensor+int64(nKV)*minKV > d.remaining() {
		return 0, 0, fmt.Errorf("%w: %d tensors and %d metadata pairs do not fit in %d bytes",
			ErrTooLarge, nTensors, nKV, d.remaining())
	}
	return nTensors, nKV, nil
}

func (d *decoder) metadata(f *File, n int) error {
	f.Metadata = make([]KV, 0, n)
	f.kvs = make(map[string]int, n)
	for i := 0; i < n; i++ {
		key, err := d.str("key", maxStringLen)
		if err != nil {
			return fmt.Errorf("pair %d: %w", i, err)
		}
		t, err := d.u32()
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if _, dup := f.kvs[key]; dup {
			return fmt.Errorf("%w: duplicate key %q", ErrFormat, key)
		}
		f.kvs[key] = len(f.Metadata)
		f.Metadata = append(f.Metadata, KV{key, v})
	}
	return nil
}

func (d *decoder) value(t ValueType, depth int) (Value, error) {
	if t == TypeArray {
		a, err := d.array(depth + 1)
		return Value{TypeArray, a}, err
	}
	if t == TypeString {
		s, err := d.str("string", maxStringLen)
		return Value{TypeString, s}, err
	}
	if !t.Valid() {
		return Value{}, fmt.Errorf("%w: value type %d", ErrFormat, uint32(t))
	}
	b, err := d.fixed(t.fixedSize())
	if err != nil {
		return Value{}, err
	}
	return Value{t, decodeScalar(t, b)}, nil
}

func decodeScalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		return b[0] != 0
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	panic("gguf: decodeScalar of non-scalar type")
}

func (d *decoder) array(depth int) (Array, error) {
	if depth > maxArrayDepth {
		return Array{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrTooLarge, maxArrayDepth)
	}
	et, err := d.u32()
	if err != nil {
		return Array{}, err
	}
	elem := ValueType(et)
	if !elem.Valid() {
		return Array{}, fmt.Errorf("%w: array element type %d", ErrFormat, et)
	}
	minBytes := int64(elem.fixedSize())
	switch elem {
	case TypeString:
		minBytes = d.wordSize()
	case TypeArray:
		minBytes = 4 + d.wordSize()
	}
	n, err := d.count("array length", maxArrayLen, minBytes)
	if err != nil {
		return Array{}, err
	}
	switch elem {
	case TypeString:
		vs := make([]string, n)
		for i := range vs {
			if vs[i], err = d.str("string", maxStringLen); err != nil {
				return Array{}, err
			}
		}
		return Array{elem, vs}, nil
	case TypeArray:
		vs := make([]Array, n)
		for i := range vs {
			if vs[i], err = d.array(depth + 1); err != nil {
				return Array{}, err
			}
		}
		return Array{elem, vs}, nil
	}
	return d.scalarArray(elem, n)
}

func (d *decoder) scalarArray(elem ValueType, n int) (Array, error) {
	size := elem.fixedSize()
	switch elem {
	case TypeUint8:
		return fillArray[uint8](d, elem, n, size)
	case TypeInt8:
		return fillArray[int8](d, elem, n, size)
	case TypeBool:
		return fillArray[bool](d, elem, n, size)
	case TypeUint16:
		return fillArray[uint16](d, elem, n, size)
	case TypeInt16:
		return fillArray[int16](d, elem, n, size)
	case TypeUint32:
		return fillArray[uint32](d, elem, n, size)
	case TypeInt32:
		return fillArray[int32](d, elem, n, size)
	case TypeFloat32:
		return fillArray[float32](d, elem, n, size)
	case TypeUint64:
		return fillArray[uint64](d, elem, n, size)
	case TypeInt64:
		return fillArray[int64](d, elem, n, size)
	case TypeFloat64:
		return fillArray[float64](d, elem, n, size)
	}
	return Array{}, fmt.Errorf("%w: array element type %v", ErrFormat, elem)
}

func fillArray[T any](d *decoder, elem ValueType, n, size int) (Array, error) {
	vs := make([]T, n)
	for i := range vs {
		b, err := d.fixed(size)
		if err != nil {
			return Array{}, err
		}
		vs[i] = decodeScalar(elem, b).(T)
	}
	return Array{elem, vs}, nil
}

func (d *decoder) tensorInfos(f *File, n int) error {
	f.Tensors = make([]TensorInfo, 0, n)
	f.tensor = make(map[string]int, n)
	for i := 0; i < n; i++ {
		t, err := d.tensorInfo()
		if err != nil {
			return fmt.Errorf("tensor %d: %w", i, err)
		}
		if _, dup := f.tensor[t.Name]; dup {
			return fmt.Errorf("%w: duplicate tensor %q", ErrFormat, t.Name)
		}
		f.tensor[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

func (d *decoder) tensorInfo() (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = d.str("tensor name", 1<<16); err != nil {
		return t, err
	}
	nd, err := d.u32()
	if err != nil {
		return t, err
	}
	if nd == 0 || nd > maxDims {
		return t, fmt.Errorf("%w: tensor %q has %d dimensions (want 1..%d)", ErrFormat, t.Name, nd, maxDims)
	}
	t.Dims = make([]uint64, nd)
	for j := range t.Dims {
		if t.Dims[j], err = d.word(); err != nil {
			return t, err
		}
	}
	typ, err := d.u32()
	if err != nil {
		return t, err
	}
	t.Type = GGMLType(typ)
	if t.Offset, err = d.u64(); err != nil {
		return t, err
	}
	if t.Size, err = TensorSize(t.Type, t.Dims); err != nil {
		return t, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return t, nil
}

// layout sets the alignment and data offset and checks every tensor's data
// lies inside the file.
func (f *File) layout(end uint64) error {
	if i, ok := f.kvs[KeyAlignment]; ok {
		a, ok := f.Metadata[i].Value.Data.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 || a > maxAlignment {
			return fmt.Errorf("%w: %s = %v (want a power of two up to %d, type uint32)",
				ErrFormat, KeyAlignment, f.Metadata[i].Value, maxAlignment)
		}
		f.Alignment = uint64(a)
	}
	f.DataOffset = alignUp(end, f.Alignment)
	if len(f.Tensors) > 0 && f.DataOffset > uint64(f.size) {
		return fmt.Errorf("%w: data section at %d is past the end of the %d-byte file", ErrFormat, f.DataOffset, f.size)
	}
	avail := uint64(0)
	if f.DataOffset <= uint64(f.size) {
		avail = uint64(f.size) - f.DataOffset
	}
	for _, t := range f.Tensors {
		if t.Offset%f.Alignment != 0 {
			return fmt.Errorf("%w: tensor %q offset %d is not a multiple of the alignment %d", ErrFormat, t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > avail || t.Size > avail-t.Offset {
			return fmt.Errorf("%w: tensor %q data [%d, +%d) runs past the end of the file (%d data bytes)",
				ErrFormat, t.Name, t.Offset, t.Size, avail)
		}
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// Tensor returns the info of the tensor called name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tensor[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData reads the bytes of the tensor called name (TensorInfo.Size
// bytes, little-endian, in the layout of its ggml type).
func (f *File) TensorData(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf tensor %q: %w", name, ErrNotFound)
	}
	b := make([]byte, t.Size)
	if err := f.ReadTensor(t, b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadTensor reads the data of t into dst, which must be t.Size bytes long.
func (f *File) ReadTensor(t TensorInfo, dst []byte) error {
	if uint64(len(dst)) != t.Size {
		return fmt.Errorf("gguf tensor %q: buffer of %d bytes for %d bytes of data", t.Name, len(dst), t.Size)
	}
	n, err := f.r.ReadAt(dst, int64(f.DataOffset+t.Offset))
	if err != nil && !(errors.Is(err, io.EOF) && n == len(dst)) {
		return fmt.Errorf("gguf tensor %q: read data: %w", t.Name, err)
	}
	return nil
}
