package models

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/llama2c"
)

func loadLlama2c(path string) (*Model, error) {
	ck, err := llama2c.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (expected a GGUF file or a llama2.c checkpoint)", err)
	}
	c := ck.Config
	m := &Model{
		Format: fmt.Sprintf("llama2.c v%d", c.Version),
		Config: llama.Config{Dim: c.Dim, HiddenDim: c.HiddenDim, Layers: c.NLayers, Heads: c.NHeads,
			KVHeads: c.NKVHeads, Vocab: c.VocabSize, Context: c.SeqLen},
		Weights: make(map[string]*ir.Frame, len(ck.Tensors)),
	}
	for _, t := range ck.Tensors {
		m.Weights[t.Name] = F32Frame(t.Shape, t.Data)
	}
	return m, m.finish()
}

// F32Frame packs float32 values as a little-endian F32 frame.
func F32Frame(shape []int, v []float32) *ir.Frame {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &ir.Frame{DType: ir.F32, Shape: ir.Shape(shape).Clone(), Data: b}
}
