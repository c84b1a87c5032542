// Package llama builds the IR graph of one decoding step of a LLaMA-family
// decoder (llama2.c / Meta layout: RMSNorm, RoPE on adjacent pairs, grouped
// query attention over a KV cache, SwiGLU feed-forward).
//
// The graph's inputs are "tokens" and "pos" (one i32 per row), its states are
// the per-layer caches "blk.N.k_cache" and "blk.N.v_cache" [Context, KVDim],
// and its output is "logits" [Vocab]. Weights use GGUF names.
package llama

import (
	"errors"
	"fmt"

	"github.com/splitup/splitup/ir"
)

// Config is the shape of a LLaMA model.
type Config struct {
	// Dim is the width of the residual stream.
	Dim int `json:"dim"`
	// HiddenDim is the width of the feed-forward layer.
	HiddenDim int `json:"hidden_dim"`
	// Layers is the number of transformer blocks.
	Layers int `json:"n_layers"`
	// Heads is the number of query heads.
	Heads int `json:"n_heads"`
	// KVHeads is the number of key/value heads (divides Heads).
	KVHeads int `json:"n_kv_heads"`
	// Vocab is the number of tokens.
	Vocab int `json:"vocab_size"`
	// Context is the KV cache length in tokens.
	Context int `json:"context_length,omitempty"`
	// Eps is the RMSNorm epsilon (default 1e-5).
	Eps float32 `json:"rms_eps,omitempty"`
	// Theta is the RoPE base (default 10000).
	Theta float32 `json:"rope_theta,omitempty"`
	// Tied says the classifier reuses the token embedding.
	Tied bool `json:"tied,omitempty"`
}

// Defaults fills zero Context, Eps, Theta and KVHeads with the usual values.
func (c Config) Defaults() Config {
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.Context == 0 {
		c.Context = 2048
	}
	if c.Eps == 0 {
		c.Eps = 1e-5
	}
	if c.Theta == 0 {
		c.Theta = 10000
	}
	return c
}

// HeadSize is Dim / Heads.
func (c Config) HeadSize() int { return c.Dim / c.Heads }

// KVDim is the width of the keys and values of one token.
func (c Config) KVDim() int { return c.HeadSize() * c.KVHeads }

// Validate reports the first inconsistent field.
func (c Config) Validate() error {
	switch {
	case c.Dim <= 0 || c.HiddenDim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.Vocab <= 0 || c.Context <= 0:
		return fmt.Errorf("llama config: dim %d, hidden %d, layers %d, heads %d, vocab %d, context %d must all be positive",
			c.Dim, c.HiddenDim, c.Layers, c.Heads, c.Vocab, c.Context)
	case c.Dim%c.Heads != 0 || c.HeadSize()%2 != 0:
		return fmt.Errorf("llama config: dim %d must split into %d heads of an even size", c.Dim, c.Heads)
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("llama config: %d kv heads must divide %d heads", c.KVHeads, c.Heads)
	case c.Layers > 1024 || c.Dim > 1<<20 || c.HiddenDim > 1<<22 || c.Vocab > 1<<24 || c.Context > 1<<24:
		return errors.New("llama config: dimensions beyond any supported model")
	case !(c.Eps > 0) || !(c.Theta > 0):
		return fmt.Errorf("llama config: eps %v and rope theta %v must be positive", c.Eps, c.Theta)
	}
	return nil
}

// WeightTypes returns the storage dtype of a weight by name; nil means all F32.
type WeightTypes func(name string) ir.DType

// Build returns the graph of one decoding step for config c.
func Build(c Config, types WeightTypes) (*ir.Graph, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if types == nil {
		types = func(string) ir.DType { return ir.F32 }
	}
	b := ir.NewBuilder()
	w := func(name string, s ...int) ir.Ref { return b.Weight(name, types(name), s) }
	norm := func(name string) ir.Ref { return b.Weight(name, ir.F32, ir.Shape{c.Dim}) }

	tokens := b.Input("tokens", ir.I32, nil)
	pos := b.Input("pos", ir.I32, nil)
	embd := w("token_embd.weight", c.Vocab, c.Dim)
	x := b.Name(b.Embed(embd, tokens), "embed") // [Dim]
	for l := 0; l < c.Layers; l++ {
		x = block(b, c, l, x, pos, w, norm)
	}
	x = b.RMSNorm(x, norm("output_norm.weight"), c.Eps)
	cls := embd
	if !c.Tied {
		cls = w("output.weight", c.Vocab, c.Dim)
	}
	b.Output("logits", b.Name(b.MatMul(x, cls), "logits")) // [Vocab]
	return b.Build()
}

// block emits transformer block l on the residual stream x [Dim].
func block(b *ir.Builder, c Config, l int, x, pos ir.Ref, w func(string, ...int) ir.Ref, norm func(string) ir.Ref) ir.Ref {
	p := fmt.Sprintf("blk.%d.", l)
	hs, kvd := c.HeadSize(), c.KVDim()
	h := b.RMSNorm(x, norm(p+"attn_norm.weight"), c.Eps)
	q := b.RoPE(b.MatMul(h, w(p+"attn_q.weight", c.Dim, c.Dim)), pos, hs, c.Theta) // [Heads*hs]
	k := b.RoPE(b.MatMul(h, w(p+"attn_k.weight", kvd, c.Dim)), pos, hs, c.Theta)   // [KVHeads*hs]
	v := b.MatMul(h, w(p+"attn_v.weight", kvd, c.Dim))                             // [KVHeads*hs]
	kc := b.State(p+"k_cache", ir.F32, ir.Shape{c.Context, kvd})
	vc := b.State(p+"v_cache", ir.F32, ir.Shape{c.Context, kvd})
	a := b.Attention(q, k, v, pos, kc, vc, c.Heads, c.KVHeads, hs)                           // [Dim]
	x = b.Name(b.Add(x, b.MatMul(a, w(p+"attn_output.weight", c.Dim, c.Dim))), p+"attn_res") // [Dim]
	h = b.RMSNorm(x, norm(p+"ffn_norm.weight"), c.Eps)
	g := b.MatMul(h, w(p+"ffn_gate.weight", c.HiddenDim, c.Dim)) // [Hidden]
	u := b.MatMul(h, w(p+"ffn_up.weight", c.HiddenDim, c.Dim))   // [Hidden]
	d := b.MatMul(b.SwiGLU(g, u), w(p+"ffn_down.weight", c.Dim, c.HiddenDim))
	return b.Name(b.Add(x, d), p+"out") // [Dim]
}
