// Package tokenizer implements the SentencePiece-style BPE tokenizer with
// byte fallback that llama2.c and llama.cpp ("tokenizer.ggml.model" =
// "llama") use for LLaMA models.
//
// A Tokenizer is loaded from a llama2.c tokenizer.bin (ParseLlama2C,
// LoadLlama2C), from the tokenizer metadata of a GGUF file (FromGGUF) or
// built from its parts (New). Encode and Decode follow llama2.c's run.c:
//
//  1. Encode optionally starts with BOS, adds a dummy-prefix space for
//     non-empty text, looks every UTF-8 codepoint up in the vocabulary
//     (a codepoint that is not a token becomes its bytes' <0xNN> tokens),
//     then repeatedly merges the adjacent pair whose concatenation is the
//     token with the highest score (the first such pair on ties) until no
//     pair merges; optionally it ends with EOS.
//  2. Decode maps one token to its text: the leading space of the first
//     token after BOS is dropped and <0xNN> tokens become the raw byte.
//
// Pieces are held with ASCII spaces where SentencePiece writes "▁"
// (U+2581); GGUF metadata is converted on the way in and out.
package tokenizer

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, returned wrapped; callers branch on them with errors.Is.
var (
	// ErrFormat: a tokenizer file or metadata that is malformed.
	ErrFormat = errors.New("malformed tokenizer")
	// ErrUnsupported: a tokenizer model other than SentencePiece BPE.
	ErrUnsupported = errors.New("unsupported tokenizer")
)

// maxTokens caps the vocabulary size.
const maxTokens = 1 << 22

// TokenType is a token's kind, with GGUF's tokenizer.ggml.token_type values.
type TokenType int32

// The token types.
const (
	Normal      TokenType = 1
	Unknown     TokenType = 2
	Control     TokenType = 3
	UserDefined TokenType = 4
	Unused      TokenType = 5
	Byte        TokenType = 6
)

// Tokenizer is an immutable SentencePiece BPE vocabulary; it is safe for
// concurrent use.
type Tokenizer struct {
	pieces      []string
	scores      []float32
	types       []TokenType
	byteVal     []int16 // byte of a <0xNN> token, or -1
	lookup      map[string]int32
	byteID      [256]int32
	bos, eos    int
	unk         int
	maxTokenLen int // as stored in tokenizer.bin
}

// New builds a tokenizer from pieces (with ASCII spaces, not "▁"), their
// merge scores and types, and the BOS and EOS ids. A nil types slice is
// inferred: Control for bos and eos, Unknown for "<unk>", Byte for <0xNN>,
// Normal otherwise.
func New(pieces []string, scores []float32, types []TokenType, bos, eos int) (*Tokenizer, error) {
	n := len(pieces)
	switch {
	case n == 0 || n > maxTokens:
		return nil, fmt.Errorf("%w: %d tokens", ErrFormat, n)
	case len(scores) != n:
		return nil, fmt.Errorf("%w: %d scores for %d tokens", ErrFormat, len(scores), n)
	case types != nil && len(types) != n:
		return nil, fmt.Errorf("%w: %d token types for %d tokens", ErrFormat, len(types), n)
	case bos < 0 || bos >= n || eos < 0 || eos >= n:
		return nil, fmt.Errorf("%w: bos %d / eos %d outside the %d-token vocabulary", ErrFormat, bos, eos, n)
	}
	t := &Tokenizer{pieces: pieces, scores: scores, types: types, bos: bos, eos: eos}
	if t.types == nil {
		t.types = make([]TokenType, n)
		for i, p := range pieces {
			t.types[i] = inferType(i, p, bos, eos)
		}
	}
	t.index()
	return t, nil
}

func inferType(id int, piece string, bos, eos int) TokenType {
	switch {
	case id == bos || id == eos:
		return Control
	case piece == "<unk>":
		return Unknown
	case byteValue(piece) >= 0:
		return Byte
	}
	return Normal
}

// byteValue returns the byte of a "<0xNN>" piece, or -1.
func byteValue(p string) int {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' {
		return -1
	}
	hi, lo := hexDigit(p[3]), hexDigit(p[4])
	if hi < 0 || lo < 0 {
		return -1
	}
	return hi<<4 | lo
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// index builds the lookup table, byte fallback ids and unknown id.
func (t *Tokenizer) index() {
	n := len(t.pieces)
	t.lookup = make(map[string]int32, n)
	t.byteVal = make([]int16, n)
	t.unk = 0
	for i := range t.byteID {
		t.byteID[i] = -1
	}
	for i := n - 1; i >= 0; i-- { // lowest id wins on duplicates
		p, typ := t.pieces[i], t.types[i]
		t.byteVal[i] = -1
		if typ == Unknown {
			t.unk = i
		}
		if typ == Control || typ == Unknown {
			continue
		}
		t.lookup[p] = int32(i)
		if b := byteValue(p); b >= 0 && typ == Byte {
			t.byteVal[i] = int16(b)
			t.byteID[b] = int32(i)
		}
	}
	for b, id := range t.byteID {
		if id >= 0 {
			continue
		}
		if n >= 259 && t.types[b+3] != Control { // llama2.c's fixed layout: byte b is id b+3
			t.byteID[b] = int32(b + 3)
		} else {
			t.byteID[b] = int32(t.unk)
		}
	}
}

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// BOS returns the beginning-of-sequence token id.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the end-of-sequence token id.
func (t *Tokenizer) EOS() int { return t.eos }

// Piece returns the text of token id as stored (ASCII spaces, <0xNN> for
// byte tokens), or "" for an id outside the vocabulary.
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Score returns the merge score of token id (0 outside the vocabulary).
func (t *Tokenizer) Score(id int) float32 {
	if id < 0 || id >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

// Type returns the type of token id (0 outside the vocabulary).
func (t *Tokenizer) Type(id int) TokenType {
	if id < 0 || id >= len(t.types) {
		return 0
	}
	return t.types[id]
}

// Encode tokenizes text as llama2.c's run.c does (see the package doc),
// with a leading BOS and a trailing EOS when asked. Every byte of text is
// encoded, including NUL bytes.
func (t *Tokenizer) Encode(text string, bos, eos bool) []int {
	toks := make([]int32, 0, len(text)+3)
	if bos {
		toks = append(toks, int32(t.bos))
	}
	if text != "" {
		toks = t.appendCodepoint(toks, " ")
	}
	toks = t.merge(t.appendText(toks, text))
	out := make([]int, len(toks), len(toks)+1)
	for i, id := range toks {
		out[i] = int(id)
	}
	if eos {
		out = append(out, t.eos)
	}
	return out
}

// appendText appends the tokens of text's UTF-8 sequences (a stray byte
// alone), before any merge.
func (t *Tokenizer) appendText(toks []int32, text string) []int32 {
	for i := 0; i < len(text); {
		j := i + 1
		for j < len(text) && text[j]&0xC0 == 0x80 && j-i < 4 {
			j++
		}
		toks = t.appendCodepoint(toks, text[i:j])
		i = j
	}
	return toks
}

func (t *Tokenizer) appendCodepoint(toks []int32, cp string) []int32 {
	if id, ok := t.lookup[cp]; ok {
		return append(toks, id)
	}
	for i := 0; i < len(cp); i++ {
		toks = append(toks, t.byteID[cp[i]])
	}
	return toks
}

// merge applies the best-scoring merges until none applies: each round
// merges the adjacent pair whose merged piece has the highest score, the
// leftmost on a tie, as llama2.c's run.c does. Rather than scanning every
// pair each round (quadratic in the text), it keeps the candidate pairs
// in a heap ordered by (score, position) and the tokens in a linked list;
// a candidate whose tokens changed since it was pushed is skipped when
// popped. Tokens keep their original positions, so position order is text
// order and "leftmost" is the smallest position.
func (t *Tokenizer) merge(toks []int32) []int32 {
	n := len(toks)
	if n < 2 {
		return toks
	}
	var buf []byte
	pairOf := func(a, b int32) int32 {
		buf = append(append(buf[:0], t.pieces[a]...), t.pieces[b]...)
		if id, ok := t.lookup[string(buf)]; ok && t.scores[id] > -1e10 {
			return id
		}
		return -1
	}
	next, prev, ver := make([]int32, n), make([]int32, n), make([]uint32, n)
	for i := range toks {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	h := mergeHeap{scores: t.scores}
	push := func(i int32) {
		if i < 0 || next[i] < 0 {
			return
		}
		j := next[i]
		if id := pairOf(toks[i], toks[j]); id >= 0 {
			h.push(mergeCand{left: i, right: j, id: id, lv: ver[i], rv: ver[j]})
		}
	}
	for i := range n - 1 {
		push(int32(i))
	}
	for len(h.c) > 0 {
		c := h.pop()
		if next[c.left] != c.right || ver[c.left] != c.lv || ver[c.right] != c.rv {
			continue // a token of the pair merged since
		}
		l, r := c.left, c.right
		toks[l] = c.id
		ver[l]++
		ver[r]++ // r is gone
		next[l] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = l
		}
		push(prev[l])
		push(l)
	}
	out := toks[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, toks[i])
	}
	return out
}

// mergeCand is a candidate merge: tokens left and right (adjacent when it
// was pushed, at versions lv and rv) into token id.
type mergeCand struct {
	left, right int32
	id          int32
	lv, rv      uint32
}

// mergeHeap is a max-heap of candidates by the merged token's score, then
// by the smaller left position.
type mergeHeap struct {
	c      []mergeCand
	scores []float32
}

func (h *mergeHeap) less(a, b mergeCand) bool { // a pops before b
	sa, sb := h.scores[a.id], h.scores[b.id]
	return sa > sb || sa == sb && a.left < b.left
}

func (h *mergeHeap) push(c mergeCand) {
	h.c = append(h.c, c)
	for i := len(h.c) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.c[i], h.c[p]) {
			break
		}
		h.c[i], h.c[p] = h.c[p], h.c[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeCand {
	top := h.c[0]
	last := len(h.c) - 1
	h.c[0] = h.c[last]
	h.c = h.c[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(h.c[l], h.c[m]) {
			m = l
		}
		if r < last && h.less(h.c[r], h.c[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.c[i], h.c[m] = h.c[m], h.c[i]
		i = m
	}
	return top
}

// Decode returns the text of token id following token prev, as llama2.c's
// run.c does: after BOS a leading space is dropped, and a <0xNN> byte token
// is that raw byte (so a multi-byte character may span tokens). Control
// tokens (BOS, EOS) and ids outside the vocabulary decode to "".
func (t *Tokenizer) Decode(prev, id int) string {
	if id < 0 || id >= len(t.pieces) || t.types[id] == Control {
		return ""
	}
	if b := t.byteVal[id]; b >= 0 {
		return string([]byte{byte(b)})
	}
	p := t.pieces[id]
	if prev == t.bos && strings.HasPrefix(p, " ") {
		p = p[1:]
	}
	return p
}

// DecodeAll returns the text of ids, each decoded after its predecessor
// (the first after -1, so a leading BOS drops the next token's space).
func (t *Tokenizer) DecodeAll(ids []int) string {
	var sb strings.Builder
	prev := -1
	for _, id := range ids {
		sb.WriteString(t.Decode(prev, id))
		prev = id
	}
	return sb.String()
}
