package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
	"github.com/splitup/splitup/models/gguf"
	"github.com/splitup/splitup/models/llama2c"
	"github.com/splitup/splitup/models/tokenizer"
)

type convertFlags struct {
	in, tokenizer, out string
	dtype              ir.DType
}

func parseConvert(args []string, stderr io.Writer) (*convertFlags, error) {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &convertFlags{}
	var dtype string
	fs.StringVar(&f.in, "in", "", "input model: llama2.c checkpoint (.bin) or GGUF v1-v3 (required)")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "llama2.c tokenizer.bin to embed (default: the input GGUF's own tokenizer)")
	fs.StringVar(&f.out, "out", "", "output GGUF v3 file (required)")
	fs.StringVar(&dtype, "dtype", "f32", "weight type of 2-D matrices: f32, f16, bf16, q8_0 or q4_0 (norm weights stay f32)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: splitup convert --in MODEL [--tokenizer tokenizer.bin] --out OUT.gguf [--dtype f32|f16|bf16|q8_0|q4_0]")
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	case f.in == "":
		return nil, usagef("--in is required: a llama2.c checkpoint or a GGUF file")
	case f.out == "":
		return nil, usagef("--out is required: where to write the GGUF v3 file")
	}
	dt, err := parseWeightDType(dtype)
	if err != nil {
		return nil, err
	}
	f.dtype = dt
	return f, nil
}

// parseWeightDType parses a --dtype value, accepting the types a weight
// matrix can be stored in.
func parseWeightDType(s string) (ir.DType, error) {
	dt, err := ir.ParseDType(s)
	if err != nil || !dt.Float() {
		return 0, usagef("--dtype %q: want f32, f16, bf16, q8_0 or q4_0", s)
	}
	return dt, nil
}

// llamaShape is the shape of a LLaMA model as GGUF metadata records it.
type llamaShape struct {
	name                                string
	dim, hidden, layers, heads, kvHeads int
	vocab, context                      int
	eps, freqBase                       float32
}

// srcTensor is one tensor to write: name, GGUF dims (fastest first) and a
// loader of its float32 elements.
type srcTensor struct {
	name string
	dims []uint64
	load func() ([]float32, error)
}

// source is a model read for conversion.
type source struct {
	shape   llamaShape
	tensors []srcTensor
	extra   []gguf.KV // input metadata to carry over
	tok     *tokenizer.Tokenizer
	close   func() error
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseConvert(args, stderr)
	if err != nil {
		return err
	}
	src, err := openSource(f.in)
	if err != nil {
		return err
	}
	defer src.close()
	if f.tokenizer != "" {
		tok, err := tokenizer.LoadLlama2C(f.tokenizer)
		if err != nil {
			return fmt.Errorf("%w (--tokenizer must be a llama2.c tokenizer.bin)", err)
		}
		src.tok = tok
		src.extra = dropKeys(src.extra, "tokenizer.")
	}
	if src.tok == nil {
		fmt.Fprintf(stderr, "splitup: warning: %s has no tokenizer and none was given with --tokenizer; llama.cpp will not load the output\n", f.in)
	} else if src.tok.VocabSize() != src.shape.vocab {
		return fmt.Errorf("the tokenizer has %d tokens but the model's vocabulary is %d; pass the tokenizer that belongs to this model with --tokenizer",
			src.tok.VocabSize(), src.shape.vocab)
	}
	md := llamaMetadata(src.shape, f.dtype)
	// A GGUF input's own tokenizer keys travel verbatim with its other
	// metadata; a tokenizer.bin is converted to GGUF's conventions.
	if src.tok != nil && !hasKey(src.extra, tokenizer.KeyTokens) {
		md = append(md, src.tok.GGUFMetadata()...)
	}
	md = append(md, dropKeys(src.extra, "")...)
	n, err := writeModel(ctx, f.out, md, src.tensors, f.dtype, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: GGUF v3, %d tensors, %d bytes\n", f.out, len(src.tensors), n)
	return nil
}

// openSource reads a llama2.c checkpoint or a GGUF file, chosen by magic.
func openSource(path string) (*source, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (check the --in path)", err)
	}
	var magic [4]byte
	_, err = io.ReadFull(fh, magic[:])
	fh.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: the file is too short to be a model", path, err)
	}
	if string(magic[:]) == gguf.Magic {
		return openGGUFSource(path)
	}
	m, err := llama2c.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (--in must be a llama2.c float32 checkpoint or a GGUF file)", err)
	}
	c := m.Config
	s := &source{
		shape: llamaShape{
			name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
			dim:  c.Dim, hidden: c.HiddenDim, layers: c.NLayers, heads: c.NHeads, kvHeads: c.NKVHeads,
			vocab: c.VocabSize, context: c.SeqLen, eps: 1e-5, freqBase: 10000,
		},
		extra: []gguf.KV{{Key: "llama.tensor_data_layout", Value: gguf.String("Meta AI original pth")}},
		close: func() error { return nil },
	}
	for _, t := range m.Tensors {
		dims := make([]uint64, len(t.Shape))
		for i, d := range t.Shape { // row-major [out][in] is GGUF [in, out]
			dims[len(dims)-1-i] = uint64(d)
		}
		s.tensors = append(s.tensors, srcTensor{t.Name, dims, func() ([]float32, error) { return t.Data, nil }})
	}
	return s, nil
}

// openGGUFSource reads a LLaMA GGUF file; its tensors are dequantised to
// float32 one at a time when written.
func openGGUFSource(path string) (*source, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	s := &source{close: f.Close}
	if s.shape, err = ggufShape(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.shape.name == "" {
		s.shape.name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if _, ok := f.Get(tokenizer.KeyTokens); ok {
		if s.tok, err = tokenizer.FromGGUF(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	s.extra = f.Metadata
	for _, t := range f.Tensors {
		dt, err := t.DType()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s.tensors = append(s.tensors, srcTensor{t.Name, t.Dims, func() ([]float32, error) {
			raw, err := f.TensorData(t.Name)
			if err != nil {
				return nil, err
			}
			out := make([]float32, t.Elements())
			if err := kernels.Dequantize(out, raw, dt); err != nil {
				return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
			}
			return out, nil
		}})
	}
	return s, nil
}

func ggufShape(f *gguf.File) (llamaShape, error) {
	var s llamaShape
	if arch, err := f.GetString("general.architecture"); err != nil || arch != "llama" {
		return s, fmt.Errorf("general.architecture is %q, want \"llama\" (only LLaMA models convert)", arch)
	}
	s.name, _ = f.GetString("general.name")
	ints := []struct {
		key string
		dst *int
	}{
		{"llama.embedding_length", &s.dim}, {"llama.feed_forward_length", &s.hidden},
		{"llama.block_count", &s.layers}, {"llama.attention.head_count", &s.heads},
		{"llama.context_length", &s.context},
	}
	for _, it := range ints {
		v, err := f.GetUint(it.key)
		if err != nil || v == 0 || v > 1<<30 {
			return s, fmt.Errorf("metadata %s: missing or out of range (%v)", it.key, err)
		}
		*it.dst = int(v)
	}
	s.kvHeads = s.heads
	if v, err := f.GetUint("llama.attention.head_count_kv"); err == nil && v > 0 && v <= 1<<30 {
		s.kvHeads = int(v)
	}
	s.eps, s.freqBase = 1e-5, 10000
	if v, err := f.GetFloat32("llama.attention.layer_norm_rms_epsilon"); err == nil {
		s.eps = v
	}
	if v, err := f.GetFloat32("llama.rope.freq_base"); err == nil {
		s.freqBase = v
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Dims) != 2 || emb.Dims[0] != uint64(s.dim) {
		return s, fmt.Errorf("token_embd.weight missing or not [%d, vocab]", s.dim)
	}
	s.vocab = int(emb.Dims[1])
	return s, nil
}

// llamaMetadata returns the general and llama.* keys llama.cpp reads.
func llamaMetadata(s llamaShape, dt ir.DType) []gguf.KV {
	u := func(v int) gguf.Value { return gguf.Uint32(uint32(v)) }
	return []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.name", Value: gguf.String(s.name)},
		{Key: "general.file_type", Value: gguf.Uint32(fileType(dt))},
		{Key: "llama.vocab_size", Value: u(s.vocab)},
		{Key: "llama.context_length", Value: u(s.context)},
		{Key: "llama.embedding_length", Value: u(s.dim)},
		{Key: "llama.block_count", Value: u(s.layers)},
		{Key: "llama.feed_forward_length", Value: u(s.hidden)},
		{Key: "llama.rope.dimension_count", Value: u(s.dim / s.heads)},
		{Key: "llama.attention.head_count", Value: u(s.heads)},
		{Key: "llama.attention.head_count_kv", Value: u(s.kvHeads)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Float32(s.eps)},
		{Key: "llama.rope.freq_base", Value: gguf.Float32(s.freqBase)},
	}
}

// fileType is llama.cpp's general.file_type (llama_ftype) for a weight type.
func fileType(dt ir.DType) uint32 {
	switch dt {
	case ir.F16:
		return 1
	case ir.Q4_0:
		return 2
	case ir.Q8_0:
		return 7
	case ir.BF16:
		return 32
	}
	return 0
}

func hasKey(kvs []gguf.KV, key string) bool {
	for _, kv := range kvs {
		if kv.Key == key {
			return true
		}
	}
	return false
}

// dropKeys returns kvs without the keys this command writes itself (the
// general/llama keys of llamaMetadata, the alignment) and, when prefix is
// not empty, without the keys starting with prefix.
func dropKeys(kvs []gguf.KV, prefix string) []gguf.KV {
	own := map[string]bool{gguf.KeyAlignment: true}
	for _, kv := range llamaMetadata(llamaShape{heads: 1}, ir.F32) {
		own[kv.Key] = true
	}
	var out []gguf.KV
	for _, kv := range kvs {
		if own[kv.Key] || prefix != "" && strings.HasPrefix(kv.Key, prefix) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// tensorType picks the storage type of a tensor for the requested dtype:
// 1-D tensors stay F32; a quantised type needs rows that are whole blocks
// of 32, and falls back to F16 otherwise. The reason is "" when dt is used.
func tensorType(dims []uint64, dt ir.DType) (ir.DType, string) {
	if len(dims) < 2 {
		return ir.F32, "1-D tensors stay f32"
	}
	if dt.Quantized() && dims[0]%uint64(dt.BlockSize()) != 0 {
		return ir.F16, fmt.Sprintf("row length %d is not a multiple of %d", dims[0], dt.BlockSize())
	}
	return dt, ""
}

// encodeTensor stores src in type dt, into dst (len = storage size).
func encodeTensor(dst []byte, src []float32, dt ir.DType) error {
	switch dt {
	case ir.F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case ir.F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], kernels.F32ToF16(v))
		}
	case ir.BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], kernels.F32ToBF16(v))
		}
	case ir.Q8_0:
		return kernels.QuantizeQ8_0(dst, src)
	case ir.Q4_0:
		return kernels.QuantizeQ4_0(dst, src)
	default:
		return fmt.Errorf("cannot store weights as %v", dt)
	}
	return nil
}

// writeModel writes a GGUF v3 file atomically (a temporary file renamed
// into place), converting each tensor as tensorType decides and reporting
// the choice per tensor on stderr. It returns the file size.
func writeModel(ctx context.Context, path string, md []gguf.KV, tensors []srcTensor, dt ir.DType, stderr io.Writer) (int64, error) {
	return writeGGUF(path, func(w *gguf.Writer) error {
		for _, kv := range md {
			if err := w.AddMetadata(kv.Key, kv.Value); err != nil {
				return err
			}
		}
		types := make([]ir.DType, len(tensors))
		for i, t := range tensors {
			typ, why := tensorType(t.dims, dt)
			types[i] = typ
			gt, err := gguf.GGMLTypeOf(typ)
			if err != nil {
				return err
			}
			if err := w.AddTensor(t.name, gt, t.dims); err != nil {
				return err
			}
			note := ""
			if typ != dt {
				note = fmt.Sprintf(" (not %v: %s)", dt, why)
			}
			fmt.Fprintf(stderr, "  %-28s %-12s %v%s\n", t.name, fmt.Sprint(t.dims), typ, note)
		}
		if err := w.WriteHeader(); err != nil {
			return err
		}
		for i, t := range tensors {
			if err := ctx.Err(); err != nil {
				return err
			}
			data, err := t.load()
			if err != nil {
				return err
			}
			buf := make([]byte, w.Tensors()[i].Size)
			if err := encodeTensor(buf, data, types[i]); err != nil {
				return fmt.Errorf("tensor %s: %w", t.name, err)
			}
			if err := w.WriteTensor(t.name, buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeGGUF creates path through a temporary file in the same directory:
// body fills the Writer, then the file is synced and renamed into place.
func writeGGUF(path string, body func(w *gguf.Writer) error) (size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("create output: %w (check that the --out directory exists and is writable)", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := gguf.NewWriter(tmp)
	if err = body(w); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err = w.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	st, err := tmp.Stat()
	if err != nil {
		return 0, err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return st.Size(), nil
}
