package models

import (
	"fmt"
	"os"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/gguf"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/tokenizer"
)

func loadGGUF(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if arch, err := f.GetString("general.architecture"); err != nil || arch != "llama" {
		return nil, fmt.Errorf("%w: architecture %q (%v); only llama is supported", ErrFormat, arch, err)
	}
	c, err := ggufConfig(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Format: fmt.Sprintf("gguf v%d", f.Version), Config: c, Weights: map[string]*ir.Frame{}}
	m.Name, _ = f.GetString("general.name")
	m.Synthetic, _ = f.GetBool("splitup.synthetic")
	mapped := mapLarge(path)
	for _, t := range f.Tensors {
		dt, err := t.DType()
		if err != nil {
			return nil, err
		}
		shape := make(ir.Shape, len(t.Dims))
		for i, d := range t.Dims { // GGUF lists dims fastest first
			shape[len(shape)-1-i] = int(d)
		}
		var data []byte
		if end := f.DataOffset + t.Offset + t.Size; mapped != nil && end <= uint64(len(mapped)) {
			data = mapped[f.DataOffset+t.Offset : end : end]
		} else if data, err = f.TensorData(t.Name); err != nil {
			return nil, err
		}
		m.Weights[t.Name] = &ir.Frame{DType: dt, Shape: shape, Data: data}
	}
	if _, ok := f.Get("tokenizer.ggml.tokens"); ok {
		if m.Tokenizer, err = tokenizer.FromGGUF(f); err != nil {
			return nil, err
		}
	}
	return m, m.finish()
}

func ggufConfig(f *gguf.File) (llama.Config, error) {
	var c llama.Config
	ints := []struct {
		key string
		dst *int
		opt bool
	}{
		{"llama.embedding_length", &c.Dim, false},
		{"llama.feed_forward_length", &c.HiddenDim, false},
		{"llama.block_count", &c.Layers, false},
		{"llama.attention.head_count", &c.Heads, false},
		{"llama.attention.head_count_kv", &c.KVHeads, true},
		{"llama.context_length", &c.Context, true},
		{"llama.vocab_size", &c.Vocab, true},
	}
	for _, it := range ints {
		v, err := f.GetUint(it.key)
		if err != nil {
			if it.opt {
				continue
			}
			return c, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if v > 1<<30 {
			return c, fmt.Errorf("%w: %s = %d is out of range", ErrFormat, it.key, v)
		}
		*it.dst = int(v)
	}
	if c.Vocab == 0 {
		if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
			c.Vocab = int(t.Dims[1])
		}
	}
	if v, err := f.GetFloat32("llama.attention.layer_norm_rms_epsilon"); err == nil {
		c.Eps = v
	}
	if v, err := f.GetFloat32("llama.rope.freq_base"); err == nil {
		c.Theta = v
	}
	return c, nil
}

// mapThreshold is the file size above which weights are mapped, not copied.
const mapThreshold = 64 << 20

// mapLarge maps a large model file read-only, or returns nil (then tensors
// are read into memory). The mapping lives as long as the process.
func mapLarge(path string) []byte {
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil || st.Size() < mapThreshold {
		return nil
	}
	b, err := mapFile(fh, st.Size())
	if err != nil {
		return nil
	}
	return b
}
