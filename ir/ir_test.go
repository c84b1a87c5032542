package ir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// mlp builds a plain MLP classifier: 768 -> 128 (relu) -> 10 (softmax).
func mlp(t testing.TB) *Graph {
	b := NewBuilder()
	x := b.Input("x", F32, Shape{768})
	h := b.Relu(b.Add(b.MatMul(x, b.Weight("w1", Q8_0, Shape{128, 768})), b.Weight("b1", F32, Shape{128})))
	b.Output("probs", b.Softmax(b.MatMul(h, b.Weight("w2", F32, Shape{10, 128}))))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ExampleBuilder() {
	b := NewBuilder()
	x := b.Input("x", F32, Shape{4})
	y := b.Relu(b.MatMul(x, b.Weight("w", F32, Shape{2, 4})))
	b.Output("y", y)
	g, err := b.Build()
	if err != nil {
		panic(err)
	}
	fmt.Println(len(g.Tensors), g.Tensors[y].Shape, g.Tensors[y].Op)
	// Output: 4 [2] relu
}

func TestEncodeRoundTrip(t *testing.T) {
	g := mlp(t)
	enc := g.Encode()
	g2, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g2.Encode(), enc) || g2.Hash() != g.Hash() {
		t.Fatal("decode/encode changed the graph")
	}
	js, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	g3, err := DecodeJSON(js)
	if err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if g3.Hash() != g.Hash() {
		t.Fatalf("json round trip changed the hash\n%s", js)
	}
	if !bytes.Contains(js, []byte(`"op":"matmul"`)) || !bytes.Contains(js, []byte(`"dtype":"q8_0"`)) {
		t.Errorf("json not readable: %s", js)
	}
}

func TestVerifyRejects(t *testing.T) {
	cases := []struct {
		name string
		edit func(g *Graph)
		want error
	}{
		{"cycle", func(g *Graph) { g.Tensors[2].Args[0] = 5 }, ErrCycle},
		{"unknown op", func(g *Graph) { g.Tensors[2].Op = Op(200) }, ErrUnknownOp},
		{"dtype", func(g *Graph) { g.Tensors[0].DType = I32 }, ErrDType},
		{"shape", func(g *Graph) { g.Tensors[0].Shape = Shape{767} }, ErrShape},
		{"too large", func(g *Graph) { g.Tensors[1].Shape = Shape{1 << 30, 1 << 30, 1 << 10} }, ErrTooLarge},
		{"bad ref", func(g *Graph) { g.Tensors[2].Args[1] = 99 }, ErrGraph},
		{"dup name", func(g *Graph) { g.Tensors[2].Name = "w1" }, ErrGraph},
		{"no outputs", func(g *Graph) { g.Outputs = nil }, ErrGraph},
		{"stray attr", func(g *Graph) { g.Tensors[2].Attrs.Eps = 1 }, ErrGraph},
		{"weight as output", func(g *Graph) { g.Outputs[0].Tensor = 1 }, ErrGraph},
		{"quantised input", func(g *Graph) { g.Tensors[0].DType = Q8_0 }, ErrDType},
	}
	for _, c := range cases {
		g := mlp(t)
		c.edit(g)
		err := g.Verify()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		var ve *VerifyError
		if err != nil && !errors.As(err, &ve) {
			t.Errorf("%s: %T is not a *VerifyError", c.name, err)
		}
	}
}

func TestBuilderErrorsStick(t *testing.T) {
	b := NewBuilder()
	x := b.Input("x", F32, Shape{4})
	w := b.Weight("w", F32, Shape{2, 5})
	y := b.MatMul(x, w) // shape mismatch
	b.Output("y", b.Relu(y))
	if _, err := b.Build(); !errors.Is(err, ErrShape) {
		t.Fatalf("got %v, want ErrShape", err)
	}
}

func TestOpsTypeCheck(t *testing.T) {
	b := NewBuilder()
	x := b.Input("x", F32, Shape{8})
	pos := b.Input("pos", I32, nil)
	r := b.RoPE(x, pos, 4, 10000)
	kc := b.State("kc", F32, Shape{16, 4})
	vc := b.State("vc", F32, Shape{16, 4})
	k := b.Slice(r, 0, 0, 4)
	a := b.Attention(r, k, k, pos, kc, vc, 2, 1, 4)
	c := b.Concat(b.Reshape(a, Shape{2, 4}), b.Reshape(x, Shape{2, 4}), 1) // [2 8]
	b.Output("out", b.SwiGLU(b.Reshape(c, Shape{16}), b.Concat(x, x, 0)))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Tensors[g.Outputs[0].Tensor].Shape; !got.Equal(Shape{16}) {
		t.Fatalf("shape %v", got)
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	enc := mlp(t).Encode()
	// Re-encode the tensor count (first varint after the header) non-minimally.
	bad := append([]byte{}, enc[:5]...)
	bad = append(bad, enc[5]|0x80, 0x00)
	bad = append(bad, enc[6:]...)
	if _, err := Decode(bad); !errors.Is(err, ErrFormat) {
		t.Fatalf("non-canonical varint: %v", err)
	}
	if _, err := Decode(append(enc, 0)); !errors.Is(err, ErrFormat) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestDecodeHugeCountFailsFast(t *testing.T) {
	// Header claiming 2^20 tensors in a 10-byte input: must not allocate them.
	b := []byte(GraphMagic + "\x01\x80\x80\x40")
	allocs := testing.AllocsPerRun(10, func() { _, _ = Decode(b) })
	if _, err := Decode(b); !errors.Is(err, ErrFormat) {
		t.Fatalf("got %v", err)
	}
	if allocs > 10 {
		t.Errorf("%v allocations for a 10-byte input", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(mlp(f).Encode())
	f.Add([]byte(GraphMagic + "\x01\x00\x00"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(g.Encode(), b) {
			t.Fatal("decode -> encode does not reproduce the input")
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	fr := &Frame{DType: F32, Shape: Shape{2, 3}, Data: make([]byte, 24)}
	enc, _ := fr.Encode()
	f.Add(enc)
	f.Add([]byte(TensorMagic + "\x01\x04\x02\xff\xff\xff\xff\x0f\x20"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b, 1<<20)
		if err != nil {
			return
		}
		out, err := fr.Encode()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("frame round trip: %v", err)
		}
	})
}

func TestFrame(t *testing.T) {
	fr := &Frame{DType: Q8_0, Shape: Shape{1, 64}, Data: make([]byte, 68)}
	enc, err := fr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFrame(enc, 67); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit not enforced: %v", err)
	}
	if _, err := DecodeFrame(enc[:len(enc)-1], 1<<20); !errors.Is(err, ErrShape) {
		t.Errorf("short data: %v", err)
	}
	if len(enc)-len(fr.Data) != FrameHeaderLen(fr.Shape) {
		t.Errorf("FrameHeaderLen %d, actual %d", FrameHeaderLen(fr.Shape), len(enc)-len(fr.Data))
	}
}

func TestDTypeBytes(t *testing.T) {
	for _, c := range []struct {
		d    DType
		n    int64
		want int64
	}{{F32, 10, 40}, {F16, 10, 20}, {BF16, 3, 6}, {Q8_0, 64, 68}, {Q4_0, 64, 36}, {I32, 1, 4}} {
		got, err := c.d.Bytes(c.n)
		if err != nil || got != c.want {
			t.Errorf("%v.Bytes(%d) = %d, %v; want %d", c.d, c.n, got, err, c.want)
		}
	}
	if _, err := Q4_0.Bytes(33); !errors.Is(err, ErrShape) {
		t.Errorf("partial block: %v", err)
	}
	for _, s := range []string{"f32", "Q8_0", " bf16 "} {
		if _, err := ParseDType(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseDType("q5_k"); !errors.Is(err, ErrDType) {
		t.Error("q5_k parsed")
	}
}
