package llama2c

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func refPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference model %s not available (%v); it lives in ../shared/models next to the module", name, err)
	}
	return p
}

// encodeV0 writes m in the legacy layout (freq_cis tables as zeros).
func encodeV0(m *Model) []byte {
	c := m.Config
	var buf bytes.Buffer
	vocab := int32(c.VocabSize)
	if !c.Shared {
		vocab = -vocab
	}
	binary.Write(&buf, binary.LittleEndian, []int32{int32(c.Dim), int32(c.HiddenDim), int32(c.NLayers),
		int32(c.NHeads), int32(c.NKVHeads), vocab, int32(c.SeqLen)})
	put := func(name string) {
		t, _ := m.Tensor(name)
		binary.Write(&buf, binary.LittleEndian, t.Data)
	}
	perLayer := func(s string) {
		for i := 0; i < c.NLayers; i++ {
			put("blk." + itoa(i) + "." + s + ".weight")
		}
	}
	put("token_embd.weight")
	for _, s := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"} {
		perLayer(s)
	}
	put("output_norm.weight")
	buf.Write(make([]byte, 2*c.SeqLen*c.HeadSize()/2*4))
	if !c.Shared {
		put("output.weight")
	}
	return buf.Bytes()
}

// encodeV1 writes m in the version 1 layout.
func encodeV1(m *Model) []byte {
	c := m.Config
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, []int32{int32(Magic), 1, int32(c.Dim), int32(c.HiddenDim), int32(c.NLayers),
		int32(c.NHeads), int32(c.NKVHeads), int32(c.VocabSize), int32(c.SeqLen)})
	if c.Shared {
		buf.WriteByte(1)
	} else {
		buf.WriteByte(0)
	}
	buf.Write(make([]byte, 256-buf.Len()))
	put := func(name string) {
		t, _ := m.Tensor(name)
		binary.Write(&buf, binary.LittleEndian, t.Data)
	}
	perLayer := func(s string) {
		for i := 0; i < c.NLayers; i++ {
			put("blk." + itoa(i) + "." + s + ".weight")
		}
	}
	perLayer("attn_norm")
	perLayer("ffn_norm")
	put("output_norm.weight")
	put("token_embd.weight")
	for _, s := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"} {
		perLayer(s)
	}
	if !c.Shared {
		put("output.weight")
	}
	return buf.Bytes()
}

func itoa(i int) string { return string(rune('0' + i)) }

// tiny returns a small model whose every float is distinct.
func tiny(shared bool) *Model {
	c := Config{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 10, SeqLen: 4, Shared: shared}
	l := newLayout(c, 28)
	m := &Model{Config: c}
	k := float32(0)
	for _, s := range l.tensors() {
		data := make([]float32, s.n)
		for i := range data {
			k++
			data[i] = k
		}
		m.Tensors = append(m.Tensors, Tensor{s.name, s.shape, data})
	}
	return m
}

func parse(t *testing.T, b []byte) *Model {
	t.Helper()
	m, err := Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTensors(t *testing.T, a, b *Model) {
	t.Helper()
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors vs %d", len(a.Tensors), len(b.Tensors))
	}
	for i, x := range a.Tensors {
		y := b.Tensors[i]
		if x.Name != y.Name || len(x.Data) != len(y.Data) {
			t.Fatalf("tensor %d: %s/%d vs %s/%d", i, x.Name, len(x.Data), y.Name, len(y.Data))
		}
		for j := range x.Data {
			if math.Float32bits(x.Data[j]) != math.Float32bits(y.Data[j]) {
				t.Fatalf("%s[%d]: %v vs %v", x.Name, j, x.Data[j], y.Data[j])
			}
		}
	}
}

func TestLayouts(t *testing.T) {
	for _, shared := range []bool{true, false} {
		want := tiny(shared)
		v0 := parse(t, encodeV0(want))
		v1 := parse(t, encodeV1(want))
		if v0.Config.Version != 0 || v1.Config.Version != 1 || v0.Config.Shared != shared || v1.Config.Shared != shared {
			t.Fatalf("configs %+v %+v", v0.Config, v1.Config)
		}
		sameTensors(t, want, v0)
		sameTensors(t, want, v1)
		n := 1 + 9*2 + 1
		if !shared {
			n++
		}
		if len(v0.Tensors) != n {
			t.Fatalf("%d tensors, want %d", len(v0.Tensors), n)
		}
	}
}

func TestRejects(t *testing.T) {
	good := encodeV0(tiny(true))
	if _, err := Parse(bytes.NewReader(good[:len(good)-4]), int64(len(good)-4)); !errors.Is(err, ErrFormat) {
		t.Errorf("truncated: %v", err)
	}
	long := append(append([]byte(nil), good...), 0, 0, 0, 0)
	if _, err := Parse(bytes.NewReader(long), int64(len(long))); !errors.Is(err, ErrFormat) {
		t.Errorf("trailing bytes: %v", err)
	}
	huge := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(huge[20:], 1<<21) // vocab
	if _, err := Parse(bytes.NewReader(huge), int64(len(huge))); !errors.Is(err, ErrFormat) {
		t.Errorf("huge vocab: %v", err)
	}
	v2 := encodeV1(tiny(true))
	v2[4] = 2
	if _, err := Parse(bytes.NewReader(v2), int64(len(v2))); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: %v", err)
	}
}

func TestStories260K(t *testing.T) {
	m, err := Open(refPath(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Dim: 64, HiddenDim: 172, NLayers: 5, NHeads: 8, NKVHeads: 4, VocabSize: 512, SeqLen: 512, Shared: true}
	if m.Config != want {
		t.Fatalf("config %+v, want %+v", m.Config, want)
	}
	if len(m.Tensors) != 47 {
		t.Fatalf("%d tensors, want 47", len(m.Tensors))
	}
	k, _ := m.Tensor("blk.4.attn_k.weight")
	if k.Shape[0] != 32 || k.Shape[1] != 64 {
		t.Fatalf("attn_k shape %v", k.Shape)
	}
	params := 0
	for _, t := range m.Tensors {
		params += len(t.Data)
	}
	if params != 260032 {
		t.Fatalf("%d parameters, want 260032", params)
	}
	// Re-encoded as version 1 it reads back identically.
	sameTensors(t, m, parse(t, encodeV1(m)))
}

func FuzzParse(f *testing.F) {
	f.Add(encodeV0(tiny(true)))
	f.Add(encodeV0(tiny(false)))
	f.Add(encodeV1(tiny(true)))
	f.Add(encodeV1(tiny(false)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		var got int
		for _, t := range m.Tensors {
			got += 4 * len(t.Data)
		}
		if int64(got) > int64(len(b)) {
			t.Fatalf("%d bytes of tensors from a %d-byte file", got, len(b))
		}
		// Both layouts re-encode to inputs that parse to the same tensors.
		for _, enc := range [][]byte{encodeV0(m), encodeV1(m)} {
			m2, err := Parse(bytes.NewReader(enc), int64(len(enc)))
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, m, m2)
		}
	})
}
