package gguf

import (
	"errors"
	"fmt"

	"github.com/splitup/splitup/ir"
)

// Sentinel errors, returned wrapped; callers branch on them with errors.Is.
var (
	// ErrMagic: the file does not start with "GGUF".
	ErrMagic = errors.New("not a GGUF file (bad magic)")
	// ErrVersion: a GGUF version other than 1, 2 or 3.
	ErrVersion = errors.New("unsupported GGUF version")
	// ErrFormat: bytes that are not a valid GGUF encoding (truncated, bad
	// type tag, misaligned offset, ...).
	ErrFormat = errors.New("malformed GGUF")
	// ErrTooLarge: a count, length or size beyond the file or the hard caps.
	ErrTooLarge = errors.New("GGUF field too large")
	// ErrNotFound: no metadata key or tensor with that name.
	ErrNotFound = errors.New("not found")
	// ErrType: a metadata value of another type than asked for.
	ErrType = errors.New("wrong metadata type")
	// ErrUnsupportedType: a ggml tensor type with no ir.DType equivalent.
	ErrUnsupportedType = errors.New("unsupported ggml tensor type")
)

// Hard caps on what a file may declare, checked before allocating.
const (
	maxKV         = 1 << 20 // metadata pairs
	maxTensors    = 1 << 20 // tensor infos
	maxStringLen  = 1 << 26 // bytes in one string (64 MiB)
	maxArrayLen   = 1 << 28 // elements in one array
	maxArrayDepth = 4       // levels of nested arrays
	maxDims       = 4       // GGML_MAX_DIMS
	maxAlignment  = 1 << 16 // general.alignment
	// DefaultAlignment is the data alignment when general.alignment is absent.
	DefaultAlignment = 32
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// KeyAlignment is the metadata key that sets the data alignment (uint32).
const KeyAlignment = "general.alignment"

// GGMLType is a ggml tensor element type as stored in tensor infos.
type GGMLType uint32

// The ggml tensor types this package knows the storage size of. The numeric
// values are part of the format.
const (
	GGMLF32  GGMLType = 0
	GGMLF16  GGMLType = 1
	GGMLQ4_0 GGMLType = 2
	GGMLQ4_1 GGMLType = 3
	GGMLQ5_0 GGMLType = 6
	GGMLQ5_1 GGMLType = 7
	GGMLQ8_0 GGMLType = 8
	GGMLQ8_1 GGMLType = 9
	GGMLQ2_K GGMLType = 10
	GGMLQ3_K GGMLType = 11
	GGMLQ4_K GGMLType = 12
	GGMLQ5_K GGMLType = 13
	GGMLQ6_K GGMLType = 14
	GGMLQ8_K GGMLType = 15
	GGMLI8   GGMLType = 24
	GGMLI16  GGMLType = 25
	GGMLI32  GGMLType = 26
	GGMLI64  GGMLType = 27
	GGMLF64  GGMLType = 28
	GGMLBF16 GGMLType = 30
)

type ggmlTypeInfo struct {
	name       string
	blockElems uint64 // 0: size unknown to this package
	blockBytes uint64
}

var ggmlTypes = map[GGMLType]ggmlTypeInfo{
	GGMLF32: {"F32", 1, 4}, GGMLF16: {"F16", 1, 2},
	GGMLQ4_0: {"Q4_0", 32, 18}, GGMLQ4_1: {"Q4_1", 32, 20},
	GGMLQ5_0: {"Q5_0", 32, 22}, GGMLQ5_1: {"Q5_1", 32, 24},
	GGMLQ8_0: {"Q8_0", 32, 34}, GGMLQ8_1: {"Q8_1", 32, 36},
	GGMLQ2_K: {"Q2_K", 256, 84}, GGMLQ3_K: {"Q3_K", 256, 110},
	GGMLQ4_K: {"Q4_K", 256, 144}, GGMLQ5_K: {"Q5_K", 256, 176},
	GGMLQ6_K: {"Q6_K", 256, 210}, GGMLQ8_K: {"Q8_K", 256, 292},
	16: {"IQ2_XXS", 0, 0}, 17: {"IQ2_XS", 0, 0}, 18: {"IQ3_XXS", 0, 0},
	19: {"IQ1_S", 0, 0}, 20: {"IQ4_NL", 0, 0}, 21: {"IQ3_S", 0, 0},
	22: {"IQ2_S", 0, 0}, 23: {"IQ4_XS", 0, 0},
	GGMLI8: {"I8", 1, 1}, GGMLI16: {"I16", 1, 2}, GGMLI32: {"I32", 1, 4},
	GGMLI64: {"I64", 1, 8}, GGMLF64: {"F64", 1, 8},
	29: {"IQ1_M", 0, 0}, GGMLBF16: {"BF16", 1, 2},
	34: {"TQ1_0", 0, 0}, 35: {"TQ2_0", 0, 0}, 39: {"MXFP4", 0, 0},
}

// String returns the ggml name of t ("F32", "Q8_0", ...).
func (t GGMLType) String() string {
	if info, ok := ggmlTypes[t]; ok {
		return info.name
	}
	return fmt.Sprintf("ggml_type(%d)", uint32(t))
}

// DType maps t to the ir.DType with the same storage layout. Types without
// one fail with ErrUnsupportedType naming the type.
func (t GGMLType) DType() (ir.DType, error) {
	switch t {
	case GGMLF32:
		return ir.F32, nil
	case GGMLF16:
		return ir.F16, nil
	case GGMLBF16:
		return ir.BF16, nil
	case GGMLQ8_0:
		return ir.Q8_0, nil
	case GGMLQ4_0:
		return ir.Q4_0, nil
	case GGMLI32:
		return ir.I32, nil
	}
	return ir.Invalid, fmt.Errorf("%w: %v (%d); supported: F32, F16, BF16, Q8_0, Q4_0, I32 (requantize the model with llama.cpp's llama-quantize)",
		ErrUnsupportedType, t, uint32(t))
}

// GGMLTypeOf maps an ir.DType to the ggml tensor type with the same layout.
func GGMLTypeOf(d ir.DType) (GGMLType, error) {
	switch d {
	case ir.F32:
		return GGMLF32, nil
	case ir.F16:
		return GGMLF16, nil
	case ir.BF16:
		return GGMLBF16, nil
	case ir.Q8_0:
		return GGMLQ8_0, nil
	case ir.Q4_0:
		return GGMLQ4_0, nil
	case ir.I32:
		return GGMLI32, nil
	}
	return 0, fmt.Errorf("%w: no ggml type for dtype %v", ErrUnsupportedType, d)
}

// TensorSize returns the number of bytes a tensor of type t with the given
// dims occupies. It fails for unknown types, zero or overflowing element
// counts and row lengths that are not whole blocks.
func TensorSize(t GGMLType, dims []uint64) (uint64, error) {
	info, ok := ggmlTypes[t]
	if !ok {
		return 0, fmt.Errorf("%w: unknown ggml tensor type %d", ErrFormat, uint32(t))
	}
	if info.blockElems == 0 {
		return 0, fmt.Errorf("%w: %v (%d): storage size not known to this reader", ErrUnsupportedType, t, uint32(t))
	}
	if len(dims) == 0 || len(dims) > maxDims {
		return 0, fmt.Errorf("%w: %d dimensions (want 1..%d)", ErrFormat, len(dims), maxDims)
	}
	const limit = 1 << 50
	n := uint64(1)
	for _, d := range dims {
		if d == 0 || d > limit || n > limit/d {
			return 0, fmt.Errorf("%w: dims %v", ErrTooLarge, dims)
		}
		n *= d
	}
	if dims[0]%info.blockElems != 0 {
		return 0, fmt.Errorf("%w: row length %d is not a multiple of the %v block size %d", ErrFormat, dims[0], t, info.blockElems)
	}
	return n / info.blockElems * info.blockBytes, nil
}

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	// Name is the tensor's name, e.g. "blk.0.attn_q.weight".
	Name string
	// Dims are the dimensions, fastest-varying first: a row-major matrix of
	// R rows of C elements has Dims [C, R].
	Dims []uint64
	// Type is the ggml element type.
	Type GGMLType
	// Offset is the byte offset of the data from the start of the data
	// section.
	Offset uint64
	// Size is the number of data bytes (derived from Type and Dims).
	Size uint64
}

// Elements returns the number of elements of the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// DType maps the tensor's ggml type to an ir.DType (see GGMLType.DType).
func (t TensorInfo) DType() (ir.DType, error) {
	d, err := t.Type.DType()
	if err != nil {
		return d, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	return d, nil
}
