package llama

import (
	"errors"
	"testing"

	"github.com/splitup/splitup/ir"
)

func TestBuildShapes(t *testing.T) {
	for _, c := range []Config{
		{Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, Context: 512, Tied: true},
		{Dim: 8192, HiddenDim: 28672, Layers: 80, Heads: 64, KVHeads: 8, Vocab: 32000, Context: 4096},
	} {
		g, err := Build(c.Defaults(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(g.OfKind(ir.KindState)); n != 2*c.Layers {
			t.Errorf("%d states, want %d", n, 2*c.Layers)
		}
		out := g.Tensors[g.Outputs[0].Tensor]
		if !out.Shape.Equal(ir.Shape{c.Vocab}) {
			t.Errorf("logits shape %v", out.Shape)
		}
		g2, err := ir.Decode(g.Encode())
		if err != nil || g2.Hash() != g.Hash() {
			t.Fatalf("round trip: %v", err)
		}
		hasOutput := g.Lookup("output.weight") >= 0
		if hasOutput == c.Tied {
			t.Errorf("tied=%v but output.weight present=%v", c.Tied, hasOutput)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{Dim: 64, HiddenDim: 172, Layers: 5, Heads: 7, Vocab: 512},
		{Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 3, Vocab: 512},
		{Dim: 0, HiddenDim: 172, Layers: 5, Heads: 8, Vocab: 512},
	}
	for _, c := range bad {
		if _, err := Build(c.Defaults(), nil); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	// A quantised type on a row that is not whole blocks must be refused.
	c := Config{Dim: 64, HiddenDim: 172, Layers: 1, Heads: 8, Vocab: 512}.Defaults()
	_, err := Build(c, func(string) ir.DType { return ir.Q8_0 })
	if !errors.Is(err, ir.ErrShape) {
		t.Errorf("q8_0 with hidden 172: %v, want ErrShape", err)
	}
}
