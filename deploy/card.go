package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/models/tokenizer"
)

// The model card format: compact JSON whose "format" field is CardFormat and
// "version" field CardVersion, at most MaxCardBytes long.
const (
	CardFormat   = "splitup-model-card"
	CardVersion  = 1
	MaxCardBytes = 32 << 20
)

// ErrCard is wrapped by DecodeCard errors.
var ErrCard = errors.New("malformed model card")

// Card is what a gateway needs besides the chain's record to serve a model:
// the tokenizer and the architecture's shape. It is published as a blob
// next to the shards; ModelID and GraphHash tie it to the registered model.
type Card struct {
	// Format is CardFormat.
	Format string `json:"format"`
	// Version is CardVersion.
	Version int `json:"version"`
	// Name is the registered model name.
	Name string `json:"name"`
	// ModelID is the id the chain gives the model.
	ModelID contract.Hash `json:"model_id"`
	// GraphHash is the hash of the partitioned graph (as registered).
	GraphHash contract.Hash `json:"graph_hash"`
	// Source is the format of the file the model was loaded from.
	Source string `json:"source,omitempty"`
	// Config is the architecture; Config.Context is the deployed KV length.
	Config llama.Config `json:"config"`
	// Tokenizer is the tokenizer in llama2.c tokenizer.bin form (base64 in
	// the JSON), or empty when the model has none.
	Tokenizer []byte `json:"tokenizer,omitempty"`
	// BOS and EOS are the tokenizer's special ids (tokenizer.bin itself
	// implies 1 and 2).
	BOS int `json:"bos,omitempty"`
	EOS int `json:"eos,omitempty"`
}

// newCard describes m as deployed in d with a KV cache of context tokens
// (0: the model's own).
func newCard(m *models.Model, d *Deployment, context int) *Card {
	c := &Card{Format: CardFormat, Version: CardVersion, Name: d.Msg.Name, ModelID: d.ID,
		GraphHash: d.Msg.GraphHash, Source: m.Format, Config: m.Config}
	if context > 0 {
		c.Config.Context = context
	}
	if m.Tokenizer != nil {
		c.Tokenizer = m.Tokenizer.MarshalLlama2C()
		c.BOS, c.EOS = m.Tokenizer.BOS(), m.Tokenizer.EOS()
	}
	return c
}

// Encode returns the card's canonical encoding (compact JSON).
func (c *Card) Encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxCardBytes {
		return nil, fmt.Errorf("model card of %d bytes exceeds %d", len(b), MaxCardBytes)
	}
	return b, nil
}

// DecodeCard parses a card and checks its format, version and form: it
// accepts only the bytes Encode produces.
func DecodeCard(b []byte) (*Card, error) {
	if len(b) > MaxCardBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrCard, len(b), MaxCardBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Card
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCard, err)
	}
	if c.Format != CardFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrCard, c.Format, CardFormat)
	}
	if c.Version != CardVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrCard, c.Version, CardVersion)
	}
	out, err := c.Encode()
	if err != nil || !bytes.Equal(out, b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrCard)
	}
	return &c, nil
}

// ParseTokenizer returns the card's tokenizer with its BOS and EOS ids, or
// nil when the card has none.
func (c *Card) ParseTokenizer() (*tokenizer.Tokenizer, error) {
	if len(c.Tokenizer) == 0 {
		return nil, nil
	}
	t, err := tokenizer.ParseLlama2C(c.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("model card: %w", err)
	}
	if (c.BOS == t.BOS() && c.EOS == t.EOS()) || (c.BOS == 0 && c.EOS == 0) {
		return t, nil
	}
	n := t.VocabSize()
	pieces, scores := make([]string, n), make([]float32, n)
	for i := range n {
		pieces[i], scores[i] = t.Piece(i), t.Score(i)
	}
	t, err = tokenizer.New(pieces, scores, nil, c.BOS, c.EOS)
	if err != nil {
		return nil, fmt.Errorf("model card: %w", err)
	}
	return t, nil
}
