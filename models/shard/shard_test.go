package shard

import (
	"bytes"
	"errors"
	"testing"

	"github.com/splitup/splitup/ir"
)

type weights map[string]*ir.Frame

func (w weights) Weight(n string) (*ir.Frame, bool) { f, ok := w[n]; return f, ok }

func sample(t testing.TB) ([]byte, *ir.Graph) {
	b := ir.NewBuilder()
	x := b.Input("x", ir.F32, ir.Shape{32})
	h := b.MatMul(x, b.Weight("w1", ir.Q8_0, ir.Shape{4, 32}))
	b.Output("y", b.Add(h, b.Weight("b1", ir.F32, ir.Shape{4})))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	w := weights{
		"w1":    {DType: ir.Q8_0, Shape: ir.Shape{4, 32}, Data: bytes.Repeat([]byte{1}, 4*34)},
		"b1":    {DType: ir.F32, Shape: ir.Shape{4}, Data: make([]byte, 16)},
		"other": {DType: ir.F32, Shape: ir.Shape{1}, Data: make([]byte, 4)},
	}
	enc, err := Encode(g, w)
	if err != nil {
		t.Fatal(err)
	}
	return enc, g
}

func TestRoundTrip(t *testing.T) {
	enc, g := sample(t)
	s, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Graph.Hash() != g.Hash() || len(s.Weights) != 2 || len(s.Weights["w1"].Data) != 136 {
		t.Fatalf("round trip lost data: %d weights", len(s.Weights))
	}
	if _, err := Encode(g, weights{}); err == nil {
		t.Fatal("missing weight accepted")
	}
	for _, cut := range []int{1, 10, len(enc) - 1} {
		if _, err := Decode(enc[:cut]); !errors.Is(err, ErrFormat) && !errors.Is(err, ir.ErrFormat) {
			t.Errorf("truncated at %d: %v", cut, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	enc, _ := sample(f)
	f.Add(enc)
	f.Add([]byte(Magic + "\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(s.Graph, s)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatal("decode -> encode does not reproduce the input")
		}
	})
}
