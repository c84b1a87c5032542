// Package llama2c reads llama2.c model checkpoints (Andrej Karpathy's
// llama2.c "run.c" format).
//
// Two layouts are read, both float32 little-endian:
//
//   - legacy (version 0): a header of 7 int32 (dim, hidden_dim, n_layers,
//     n_heads, n_kv_heads, vocab_size, seq_len); a negative vocab_size means
//     the classifier is not shared with the token embedding and comes last.
//     The weights follow grouped by kind over all layers, then the final
//     norm, the legacy RoPE tables freq_cis_real/imag (skipped), then wcls.
//   - version 1: the magic "ak42" (uint32 0x616b3432), int32 version 1, the
//     same 7 int32, a shared_classifier byte, zero padding to 256 bytes; then
//     the norms of all layers, the final norm, the embedding, the matrices,
//     then wcls when not shared.
//
// Open (or Parse) checks that the file size is exactly what the header
// implies before reading any weights, and returns the Config and the tensors
// under GGUF-style names as row-major [out][in] float32 data.
package llama2c

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Sentinel errors, returned wrapped; callers branch on them with errors.Is.
var (
	// ErrFormat: a header or size that is not a valid checkpoint.
	ErrFormat = errors.New("malformed llama2.c checkpoint")
	// ErrVersion: an "ak42" file of a version other than 1 (version 2 is
	// the int8-quantised export, not read here).
	ErrVersion = errors.New("unsupported llama2.c checkpoint version")
)

// Magic is the uint32 that starts a version-1 checkpoint ("ak42").
const Magic uint32 = 0x616b3432

// Caps on header fields, checked before any size arithmetic.
const (
	maxDim    = 1 << 16
	maxHidden = 1 << 18
	maxLayers = 1 << 10
	maxHeads  = 1 << 10
	maxVocab  = 1 << 22
	maxSeqLen = 1 << 22
)

// Config is the model shape from a checkpoint header.
type Config struct {
	Dim       int  // embedding width
	HiddenDim int  // feed-forward width
	NLayers   int  // transformer blocks
	NHeads    int  // query heads
	NKVHeads  int  // key/value heads (GQA when below NHeads)
	VocabSize int  // tokens (always positive here)
	SeqLen    int  // maximum context length
	Shared    bool // classifier shares the token embedding (no output.weight)
	Version   int  // 0 (legacy) or 1
}

// HeadSize returns Dim / NHeads.
func (c Config) HeadSize() int { return c.Dim / c.NHeads }

// KVDim returns the width of the key and value projections.
func (c Config) KVDim() int { return c.Dim * c.NKVHeads / c.NHeads }

// Validate checks the fields against each other and the caps.
func (c Config) Validate() error {
	switch {
	case c.Dim <= 0 || c.Dim > maxDim,
		c.HiddenDim <= 0 || c.HiddenDim > maxHidden,
		c.NLayers <= 0 || c.NLayers > maxLayers,
		c.NHeads <= 0 || c.NHeads > maxHeads,
		c.NKVHeads <= 0 || c.NKVHeads > c.NHeads,
		c.VocabSize <= 0 || c.VocabSize > maxVocab,
		c.SeqLen <= 0 || c.SeqLen > maxSeqLen:
		return fmt.Errorf("%w: header %+v out of range", ErrFormat, c)
	case c.Dim%c.NHeads != 0 || c.NHeads%c.NKVHeads != 0:
		return fmt.Errorf("%w: dim %d, n_heads %d, n_kv_heads %d do not divide", ErrFormat, c.Dim, c.NHeads, c.NKVHeads)
	case c.HeadSize()%2 != 0:
		return fmt.Errorf("%w: head size %d is odd (RoPE rotates pairs)", ErrFormat, c.HeadSize())
	}
	return nil
}

// Tensor is one weight tensor. Shape is row-major: [out, in] for matrices
// ([rows, columns], e.g. attn_k is [kv_dim, dim]) and [n] for norm weights.
// Data holds the elements in that order.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Model is a parsed checkpoint.
type Model struct {
	Config Config
	// Tensors in GGUF order: token_embd.weight, then per block attn_norm,
	// attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate (w1),
	// ffn_down (w2), ffn_up (w3), then output_norm.weight and, when the
	// classifier is not shared, output.weight.
	Tensors []Tensor
}

// Tensor returns the tensor called name.
func (m *Model) Tensor(name string) (Tensor, bool) {
	for _, t := range m.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Open reads the checkpoint at path.
func Open(path string) (*Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open llama2.c checkpoint: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("open llama2.c checkpoint: %w", err)
	}
	m, err := Parse(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse reads a checkpoint of size bytes from r.
func Parse(r io.ReaderAt, size int64) (*Model, error) {
	cfg, headerLen, err := ReadHeader(r, size)
	if err != nil {
		return nil, err
	}
	l := newLayout(cfg, headerLen)
	if want := l.fileSize(); want != size {
		return nil, fmt.Errorf("%w: header %s implies %d bytes, file has %d", ErrFormat, describe(cfg), want, size)
	}
	m := &Model{Config: cfg}
	for _, t := range l.tensors() {
		data := make([]float32, t.n)
		if err := readFloats(r, t.off, data); err != nil {
			return nil, fmt.Errorf("read %s: %w", t.name, err)
		}
		m.Tensors = append(m.Tensors, Tensor{Name: t.name, Shape: t.shape, Data: data})
	}
	return m, nil
}

func describe(c Config) string {
	return fmt.Sprintf("(v%d dim %d hidden %d layers %d heads %d kv_heads %d vocab %d seq %d shared %v)",
		c.Version, c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKVHeads, c.VocabSize, c.SeqLen, c.Shared)
}

// ReadHeader reads and validates the header and returns the Config and the
// header length in bytes.
func ReadHeader(r io.ReaderAt, size int64) (Config, int64, error) {
	var h [256]byte
	if size < 28 {
		return Config{}, 0, fmt.Errorf("%w: %d bytes is shorter than a header", ErrFormat, size)
	}
	n := min(size, int64(len(h)))
	if _, err := r.ReadAt(h[:n], 0); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, 0, fmt.Errorf("read llama2.c header: %w", err)
	}
	le := binary.LittleEndian
	field := func(b []byte, i int) int { return int(int32(le.Uint32(b[4*i:]))) }
	var c Config
	var headerLen int64
	if le.Uint32(h[:]) == Magic {
		if size < 256 {
			return Config{}, 0, fmt.Errorf("%w: version 1 file of %d bytes is shorter than its 256-byte header", ErrFormat, size)
		}
		if v := field(h[:], 1); v != 1 {
			return Config{}, 0, fmt.Errorf("%w: version %d (only 0 and 1 are float32 checkpoints)", ErrVersion, v)
		}
		b := h[8:]
		c = Config{field(b, 0), field(b, 1), field(b, 2), field(b, 3), field(b, 4), field(b, 5), field(b, 6), h[36] != 0, 1}
		headerLen = 256
	} else {
		b := h[:]
		c = Config{field(b, 0), field(b, 1), field(b, 2), field(b, 3), field(b, 4), field(b, 5), field(b, 6), true, 0}
		if c.VocabSize < 0 {
			c.VocabSize, c.Shared = -c.VocabSize, false
		}
		headerLen = 28
	}
	if err := c.Validate(); err != nil {
		return Config{}, 0, err
	}
	return c, headerLen, nil
}

type tensorSpan struct {
	name  string
	shape []int
	off   int64 // byte offset in the file
	n     int   // float count
}

// layout computes where each tensor lives for a validated Config.
type layout struct {
	c      Config
	header int64
}

func newLayout(c Config, header int64) layout { return layout{c, header} }

func (l layout) fileSize() int64 {
	var end int64
	for _, s := range l.tensors() {
		end = max(end, s.off+4*int64(s.n))
	}
	if l.c.Version == 0 && l.c.Shared {
		end += l.freqCisBytes()
	}
	return end
}

// freqCisBytes is the size of the two legacy RoPE tables.
func (l layout) freqCisBytes() int64 {
	return 2 * int64(l.c.SeqLen) * int64(l.c.HeadSize()/2) * 4
}

// tensors lists the tensors of the file in GGUF order with their offsets.
func (l layout) tensors() []tensorSpan {
	c := l.c
	dim, hid, kv, L := c.Dim, c.HiddenDim, c.KVDim(), c.NLayers
	type group struct {
		name  string // per-layer GGUF suffix, or a full name when global
		shape []int
		layer bool
	}
	var order []group
	emb := group{"token_embd.weight", []int{c.VocabSize, dim}, false}
	attnNorm := group{"attn_norm.weight", []int{dim}, true}
	ffnNorm := group{"ffn_norm.weight", []int{dim}, true}
	final := group{"output_norm.weight", []int{dim}, false}
	mats := []group{
		{"attn_q.weight", []int{dim, dim}, true}, {"attn_k.weight", []int{kv, dim}, true},
		{"attn_v.weight", []int{kv, dim}, true}, {"attn_output.weight", []int{dim, dim}, true},
	}
	ffn := []group{
		{"ffn_gate.weight", []int{hid, dim}, true}, {"ffn_down.weight", []int{dim, hid}, true},
		{"ffn_up.weight", []int{hid, dim}, true},
	}
	var skip int64 // bytes skipped before the classifier
	if c.Version == 0 {
		order = append(order, emb, attnNorm)
		order = append(order, mats...)
		order = append(order, ffnNorm)
		order = append(order, ffn...)
		order = append(order, final)
		skip = l.freqCisBytes()
	} else {
		order = append(order, attnNorm, ffnNorm, final, emb)
		order = append(order, mats...)
		order = append(order, ffn...)
	}
	if !c.Shared {
		order = append(order, group{"output.weight", []int{c.VocabSize, dim}, false})
	}
	byName := map[string]tensorSpan{}
	off := l.header
	for _, g := range order {
		n := 1
		for _, d := range g.shape {
			n *= d
		}
		if g.name == "output.weight" {
			off += skip
		}
		if !g.layer {
			byName[g.name] = tensorSpan{g.name, g.shape, off, n}
			off += 4 * int64(n)
			continue
		}
		for i := 0; i < L; i++ {
			name := fmt.Sprintf("blk.%d.%s", i, g.name)
			byName[name] = tensorSpan{name, g.shape, off, n}
			off += 4 * int64(n)
		}
	}
	return ggufOrder(c, byName)
}

// ggufOrder returns the spans in the order Model.Tensors documents.
func ggufOrder(c Config, byName map[string]tensorSpan) []tensorSpan {
	out := []tensorSpan{byName["token_embd.weight"]}
	for i := 0; i < c.NLayers; i++ {
		for _, s := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"} {
			out = append(out, byName[fmt.Sprintf("blk.%d.%s.weight", i, s)])
		}
	}
	out = append(out, byName["output_norm.weight"])
	if !c.Shared {
		out = append(out, byName["output.weight"])
	}
	return out
}

func readFloats(r io.ReaderAt, off int64, dst []float32) error {
	buf := make([]byte, min(len(dst)*4, 1<<20))
	for done := 0; done < len(dst); {
		k := min(len(dst)-done, len(buf)/4)
		b := buf[:4*k]
		n, err := r.ReadAt(b, off+int64(done)*4)
		if n != len(b) {
			return fmt.Errorf("%w: short read at byte %d: %v", ErrFormat, off+int64(done)*4, err)
		}
		for i := range k {
			dst[done+i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		done += k
	}
	return nil
}
