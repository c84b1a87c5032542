package tokenizer

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/splitup/splitup/models/gguf"
)

// llama2.c's fixed special ids.
const (
	llama2cBOS = 1
	llama2cEOS = 2
)

// maxPieceLen caps one piece in a tokenizer.bin.
const maxPieceLen = 1 << 16

// LoadLlama2C reads a llama2.c tokenizer.bin file.
func LoadLlama2C(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := ParseLlama2C(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseLlama2C parses the llama2.c tokenizer.bin format: int32
// max_token_length, then per token float32 score, int32 length and the
// bytes, up to the end of the input. BOS is id 1 and EOS id 2.
func ParseLlama2C(b []byte) (*Tokenizer, error) {
	le := binary.LittleEndian
	if len(b) < 4 {
		return nil, fmt.Errorf("read tokenizer.bin: %w: %d bytes is too short", ErrFormat, len(b))
	}
	maxLen := int32(le.Uint32(b))
	if maxLen < 0 || maxLen > maxPieceLen {
		return nil, fmt.Errorf("read tokenizer.bin: %w: max_token_length %d", ErrFormat, maxLen)
	}
	var pieces []string
	var scores []float32
	for off := 4; off < len(b); {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("read tokenizer.bin: %w: token %d truncated at byte %d", ErrFormat, len(pieces), off)
		}
		score := math.Float32frombits(le.Uint32(b[off:]))
		n := int32(le.Uint32(b[off+4:]))
		off += 8
		if n < 0 || n > maxLen || int(n) > len(b)-off {
			return nil, fmt.Errorf("read tokenizer.bin: %w: token %d has length %d (max_token_length %d, %d bytes left)",
				ErrFormat, len(pieces), n, maxLen, len(b)-off)
		}
		if len(pieces) >= maxTokens {
			return nil, fmt.Errorf("read tokenizer.bin: %w: more than %d tokens", ErrFormat, maxTokens)
		}
		pieces = append(pieces, string(b[off:off+int(n)]))
		scores = append(scores, score)
		off += int(n)
	}
	if len(pieces) <= llama2cEOS {
		return nil, fmt.Errorf("read tokenizer.bin: %w: %d tokens; want at least <unk>, BOS and EOS", ErrFormat, len(pieces))
	}
	t, err := New(pieces, scores, nil, llama2cBOS, llama2cEOS)
	if err != nil {
		return nil, fmt.Errorf("read tokenizer.bin: %w", err)
	}
	t.maxTokenLen = int(maxLen)
	return t, nil
}

// MarshalLlama2C encodes t in the tokenizer.bin format. For a tokenizer
// read by ParseLlama2C it returns the input bytes.
func (t *Tokenizer) MarshalLlama2C() []byte {
	maxLen := t.maxTokenLen
	size := 4
	for _, p := range t.pieces {
		maxLen = max(maxLen, len(p))
		size += 8 + len(p)
	}
	b := make([]byte, 4, size)
	binary.LittleEndian.PutUint32(b, uint32(maxLen))
	for i, p := range t.pieces {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(t.scores[i]))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// GGUF metadata keys of the tokenizer.
const (
	KeyModel     = "tokenizer.ggml.model"
	KeyTokens    = "tokenizer.ggml.tokens"
	KeyScores    = "tokenizer.ggml.scores"
	KeyTokenType = "tokenizer.ggml.token_type"
	KeyBOS       = "tokenizer.ggml.bos_token_id"
	KeyEOS       = "tokenizer.ggml.eos_token_id"
	KeyUnknown   = "tokenizer.ggml.unknown_token_id"
	KeyAddBOS    = "tokenizer.ggml.add_bos_token"
	KeyAddEOS    = "tokenizer.ggml.add_eos_token"
)

const spaceMark = "▁" // U+2581, SentencePiece's visible space

// FromGGUF builds the tokenizer described by a GGUF file's metadata
// (tokenizer.ggml.model "llama"; tokens required; scores, token types and
// the BOS/EOS ids optional, defaulting to 0, inferred, 1 and 2).
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	if m, err := f.GetString(KeyModel); err == nil && m != "llama" {
		return nil, fmt.Errorf("gguf tokenizer: %w: %s = %q; only SentencePiece BPE (\"llama\") is supported", ErrUnsupported, KeyModel, m)
	}
	toks, err := f.GetStrings(KeyTokens)
	if err != nil {
		return nil, fmt.Errorf("gguf tokenizer: %w", err)
	}
	n := len(toks)
	scores, err := f.GetFloat32s(KeyScores)
	if err != nil {
		scores = make([]float32, n)
	}
	var types []TokenType
	if raw, err := f.GetInt32s(KeyTokenType); err == nil {
		if len(raw) != n {
			return nil, fmt.Errorf("gguf tokenizer: %w: %d token types for %d tokens", ErrFormat, len(raw), n)
		}
		types = make([]TokenType, n)
		for i, v := range raw {
			types[i] = TokenType(v)
		}
	}
	bos, eos := uint64(llama2cBOS), uint64(llama2cEOS)
	if v, err := f.GetUint(KeyBOS); err == nil {
		bos = v
	}
	if v, err := f.GetUint(KeyEOS); err == nil {
		eos = v
	}
	if bos >= uint64(n) || eos >= uint64(n) {
		return nil, fmt.Errorf("gguf tokenizer: %w: bos %d / eos %d outside %d tokens", ErrFormat, bos, eos, n)
	}
	pieces := make([]string, n)
	for i, s := range toks {
		pieces[i] = strings.ReplaceAll(s, spaceMark, " ")
	}
	t, err := New(pieces, scores, types, int(bos), int(eos))
	if err != nil {
		return nil, fmt.Errorf("gguf tokenizer: %w", err)
	}
	return t, nil
}

// GGUFMetadata returns the tokenizer as GGUF metadata in llama.cpp's
// convention: model "llama", tokens with "▁" for spaces, control tokens
// without surrounding whitespace (llama2.c's "\n<s>\n" becomes "<s>"),
// byte tokens as <0xNN>, scores, token types and the special ids.
func (t *Tokenizer) GGUFMetadata() []gguf.KV {
	n := len(t.pieces)
	toks := make([]string, n)
	types := make([]int32, n)
	for i, p := range t.pieces {
		if t.types[i] == Control || t.types[i] == Unknown {
			p = strings.TrimSpace(p)
		}
		toks[i] = strings.ReplaceAll(p, " ", spaceMark)
		types[i] = int32(t.types[i])
	}
	return []gguf.KV{
		{Key: KeyModel, Value: gguf.String("llama")},
		{Key: KeyTokens, Value: gguf.Strings(toks)},
		{Key: KeyScores, Value: gguf.Float32s(append([]float32(nil), t.scores...))},
		{Key: KeyTokenType, Value: gguf.Int32s(types)},
		{Key: KeyBOS, Value: gguf.Uint32(uint32(t.bos))},
		{Key: KeyEOS, Value: gguf.Uint32(uint32(t.eos))},
		{Key: KeyUnknown, Value: gguf.Uint32(uint32(t.unk))},
		{Key: KeyAddBOS, Value: gguf.Bool(true)},
		{Key: KeyAddEOS, Value: gguf.Bool(false)},
	}
}
