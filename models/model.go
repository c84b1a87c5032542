// Package models turns model files into an IR graph plus weights and a
// tokenizer: llama2.c checkpoints (models/llama2c), GGUF v1–v3
// (models/gguf), with LLaMA-family graphs built by models/llama.
//
// Loading:
//
//  1. Load(path) sniffs the format from the file's first bytes.
//  2. The config comes from the header (llama2.c) or metadata (GGUF); the
//     graph is llama.Build(config, the file's weight dtypes).
//  3. Weights are read into memory as ir.Frames keyed by GGUF tensor names.
//  4. The tokenizer comes from the GGUF metadata, or from a separate
//     llama2.c tokenizer.bin given with LoadTokenizer.
package models

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/tokenizer"
)

// ErrFormat is wrapped by errors about files that are not a supported model.
var ErrFormat = errors.New("unsupported model file")

// Model is a loaded model: its graph of one decoding step, weights and
// (when the file has one) tokenizer.
type Model struct {
	// Path is the file it was loaded from.
	Path string
	// Format names the file format ("gguf v3", "llama2.c v0", ...).
	Format string
	// Name is the model's name from its metadata, if any.
	Name string
	// Synthetic is true for models with random weights written by synth.
	Synthetic bool
	// Config is the architecture's shape.
	Config llama.Config
	// Graph is the decoding step.
	Graph *ir.Graph
	// Weights are keyed by GGUF tensor name.
	Weights map[string]*ir.Frame
	// Tokenizer is the embedded tokenizer, or nil.
	Tokenizer *tokenizer.Tokenizer
}

// Weight implements exec.Weights.
func (m *Model) Weight(name string) (*ir.Frame, bool) {
	w, ok := m.Weights[name]
	return w, ok
}

// WeightBytes returns the total size of the weights.
func (m *Model) WeightBytes() int64 {
	var n int64
	for _, w := range m.Weights {
		n += int64(len(w.Data))
	}
	return n
}

// Load reads a model file (GGUF or llama2.c) and builds its graph.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w: file too short (%v)", path, ErrFormat, err)
	}
	var m *Model
	switch string(magic[:]) {
	case "GGUF":
		m, err = loadGGUF(path)
	default:
		m, err = loadLlama2c(path)
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// finish builds the graph for m.Config from the dtypes of m.Weights and
// checks that the tokenizer, if any, fits the vocabulary.
func (m *Model) finish() error {
	m.Config = m.Config.Defaults()
	_, hasOut := m.Weights["output.weight"]
	m.Config.Tied = !hasOut
	types := func(name string) ir.DType {
		if w, ok := m.Weights[name]; ok {
			return w.DType
		}
		return ir.F32
	}
	g, err := llama.Build(m.Config, types)
	if err != nil {
		return err
	}
	for _, i := range g.OfKind(ir.KindWeight) {
		t := &g.Tensors[i]
		w, ok := m.Weights[t.Name]
		if !ok {
			return fmt.Errorf("%w: tensor %q is missing", ErrFormat, t.Name)
		}
		if !w.Shape.Equal(t.Shape) {
			return fmt.Errorf("%w: tensor %q has shape %v, the config needs %v", ErrFormat, t.Name, w.Shape, t.Shape)
		}
	}
	m.Graph = g
	if m.Tokenizer != nil && m.Tokenizer.VocabSize() != m.Config.Vocab {
		return fmt.Errorf("%w: embedded tokenizer has %d tokens, the model %d", ErrFormat, m.Tokenizer.VocabSize(), m.Config.Vocab)
	}
	return nil
}

// CheckTokenizer reports whether tok fits m (same vocabulary size).
func (m *Model) CheckTokenizer(tok *tokenizer.Tokenizer) error {
	if tok.VocabSize() != m.Config.Vocab {
		return fmt.Errorf("tokenizer has %d tokens but the model has a vocabulary of %d: use the tokenizer that belongs to this model", tok.VocabSize(), m.Config.Vocab)
	}
	return nil
}
