package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/splitup/splitup/ir"
)

// refPath returns the path of a reference model file, skipping the test
// when the shared reference data is not checked out next to the module.
func refPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference model %s not available (%v); it lives in ../shared/models next to the module", name, err)
	}
	return p
}

// sample builds a small v3 file with every value type, a nested array and
// tensors of several types.
func sample(t testing.TB, alignment uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	kvs := []KV{
		{"general.architecture", String("llama")},
		{"u8", Uint8(7)}, {"i8", Int8(-7)}, {"u16", Uint16(700)}, {"i16", Int16(-700)},
		{"u32", Uint32(70000)}, {"i32", Int32(-70000)}, {"f32", Float32(1e-5)},
		{"bool", Bool(true)}, {"u64", Uint64(1 << 40)}, {"i64", Int64(-1 << 40)},
		{"f64", Float64(3.25)},
		{"strs", Strings([]string{"a", "▁b", ""})},
		{"f32s", Float32s([]float32{0, -1, 2.5})},
		{"i32s", Int32s([]int32{1, 2, 3})},
		{"nested", Arrays([]Array{{TypeUint8, []uint8{1, 2}}, {TypeString, []string{"x"}}, {TypeBool, []bool{}}})},
	}
	if alignment != 0 {
		kvs = append(kvs, KV{KeyAlignment, Uint32(alignment)})
	}
	for _, kv := range kvs {
		if err := w.AddMetadata(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	tensors := []struct {
		name string
		typ  GGMLType
		dims []uint64
	}{
		{"a", GGMLF32, []uint64{3}},
		{"b", GGMLF16, []uint64{5, 2}},
		{"c", GGMLQ8_0, []uint64{32, 2}},
		{"d", GGMLQ4_0, []uint64{64}},
		{"e", GGMLBF16, []uint64{1, 1, 1, 3}},
	}
	for _, tt := range tensors {
		if err := w.AddTensor(tt.name, tt.typ, tt.dims); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for i, ti := range w.Tensors() {
		data := bytes.Repeat([]byte{byte(i + 1)}, int(ti.Size))
		if err := w.WriteTensor(ti.Name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustRead(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 64} {
		b := sample(t, align)
		f := mustRead(t, b)
		if f.Version != 3 || len(f.Metadata) < 16 || len(f.Tensors) != 5 {
			t.Fatalf("got version %d, %d keys, %d tensors", f.Version, len(f.Metadata), len(f.Tensors))
		}
		if want := uint64(max(align, DefaultAlignment)); f.Alignment != want || f.DataOffset%want != 0 {
			t.Fatalf("alignment %d data offset %d, want alignment %d", f.Alignment, f.DataOffset, want)
		}
		if got := encode(t, f); !bytes.Equal(got, b) {
			t.Fatalf("write → read → write changed the bytes (%d vs %d)", len(got), len(b))
		}
		nested, err := f.GetArray("nested")
		if err != nil || nested.Len() != 3 {
			t.Fatalf("nested: %v %v", nested, err)
		}
		inner := nested.Values.([]Array)
		if !reflect.DeepEqual(inner[1].Values, []string{"x"}) {
			t.Fatalf("nested[1] = %v", inner[1])
		}
		data, err := f.TensorData("c")
		if err != nil || len(data) != 68 || data[0] != 3 {
			t.Fatalf("tensor c: %d bytes, %v", len(data), err)
		}
	}
}

func TestGetters(t *testing.T) {
	f := mustRead(t, sample(t, 0))
	if s, err := f.GetString("general.architecture"); err != nil || s != "llama" {
		t.Errorf("GetString = %q, %v", s, err)
	}
	if u, err := f.GetUint("u16"); err != nil || u != 700 {
		t.Errorf("GetUint(u16) = %d, %v", u, err)
	}
	if _, err := f.GetUint("i32"); !errors.Is(err, ErrType) {
		t.Errorf("GetUint(i32 negative) err = %v, want ErrType", err)
	}
	if i, err := f.GetInt("i64"); err != nil || i != -1<<40 {
		t.Errorf("GetInt = %d, %v", i, err)
	}
	if x, err := f.GetFloat32("f32"); err != nil || x != 1e-5 {
		t.Errorf("GetFloat32 = %v, %v", x, err)
	}
	if b, err := f.GetBool("bool"); err != nil || !b {
		t.Errorf("GetBool = %v, %v", b, err)
	}
	if s, err := f.GetStrings("strs"); err != nil || len(s) != 3 || s[1] != "▁b" {
		t.Errorf("GetStrings = %q, %v", s, err)
	}
	if _, err := f.GetString("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing key err = %v, want ErrNotFound", err)
	}
	if _, err := f.TensorData("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tensor err = %v, want ErrNotFound", err)
	}
	ti, _ := f.Tensor("c")
	if d, err := ti.DType(); err != nil || d != ir.Q8_0 {
		t.Errorf("DType = %v, %v", d, err)
	}
	if _, err := GGMLQ4_K.DType(); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("Q4_K DType err = %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	if err := w.AddMetadata(KeyAlignment, Uint32(24)); err == nil {
		t.Error("alignment 24 accepted")
	}
	if err := w.AddMetadata("x", Value{TypeUint32, int32(1)}); err == nil {
		t.Error("mistyped value accepted")
	}
	if err := w.AddTensor("q", GGMLQ8_0, []uint64{31}); err == nil {
		t.Error("Q8_0 row of 31 accepted")
	}
	if err := w.AddTensor("z", GGMLF32, []uint64{0}); err == nil {
		t.Error("zero dim accepted")
	}
}

func TestRejectsAbsurdHeaders(t *testing.T) {
	good := sample(t, 0)
	cases := map[string]func(b []byte){
		"magic":   func(b []byte) { copy(b, "GGUG") },
		"version": func(b []byte) { b[4] = 9 },
		"tensors": func(b []byte) { b[15] = 0x7f },
		"kvs":     func(b []byte) { b[23] = 0x7f },
		// first key's length
		"keylen": func(b []byte) { b[31] = 0x10 },
	}
	for name, mutate := range cases {
		b := append([]byte(nil), good...)
		mutate(b)
		if _, err := Read(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: corrupted header accepted", name)
		}
	}
	f := mustRead(t, good)
	last := f.Tensors[len(f.Tensors)-1]
	for n := 0; n < int(f.DataOffset+last.Offset+last.Size); n += 7 {
		if _, err := Read(bytes.NewReader(good[:n]), int64(n)); err == nil {
			t.Errorf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestReferenceV1(t *testing.T) {
	f, err := Open(refPath(t, "tinyllamas-stories-260k-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 1 || len(f.Metadata) != 18 || len(f.Tensors) != 48 || f.DataOffset != 11456 {
		t.Fatalf("version %d, %d keys, %d tensors, data offset %d; want 1, 18, 48, 11456",
			f.Version, len(f.Metadata), len(f.Tensors), f.DataOffset)
	}
	if n, err := f.GetUint("llama.block_count"); err != nil || n != 5 {
		t.Errorf("block_count = %d, %v", n, err)
	}
	if eps, err := f.GetFloat32("llama.attention.layer_norm_rms_epsilon"); err != nil || eps != 1e-5 {
		t.Errorf("eps = %v, %v", eps, err)
	}
	toks, err := f.GetStrings("tokenizer.ggml.tokens")
	if err != nil || len(toks) != 512 {
		t.Fatalf("tokens: %d, %v", len(toks), err)
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || !reflect.DeepEqual(emb.Dims, []uint64{64, 512}) || emb.Type != GGMLF32 {
		t.Fatalf("token_embd.weight = %+v", emb)
	}
	down, _ := f.Tensor("blk.0.ffn_down.weight")
	if !reflect.DeepEqual(down.Dims, []uint64{172, 64}) {
		t.Errorf("ffn_down dims %v", down.Dims)
	}
	// v1 → v3 → read → v3 is stable.
	b := encode(t, f)
	f3 := mustRead(t, b)
	if f3.Version != 3 || len(f3.Tensors) != 48 {
		t.Fatalf("re-encoded: version %d, %d tensors", f3.Version, len(f3.Tensors))
	}
	if !bytes.Equal(encode(t, f3), b) {
		t.Fatal("v3 re-encoding is not stable")
	}
	d1, _ := f.TensorData("output.weight")
	d3, _ := f3.TensorData("output.weight")
	if !bytes.Equal(d1, d3) {
		t.Fatal("tensor data changed in re-encoding")
	}
}

func TestVersion2(t *testing.T) {
	b := sample(t, 0)
	b[4] = 2 // v2 and v3 share the little-endian layout
	f := mustRead(t, b)
	if f.Version != 2 || len(f.Tensors) != 5 {
		t.Fatalf("version %d, %d tensors", f.Version, len(f.Tensors))
	}
	b[4] = 3
	if !bytes.Equal(encode(t, f), b) {
		t.Fatal("v2 re-encoded as v3 differs from the v3 original")
	}
}

// v1 builds a version-1 file by hand: 32-bit counts, lengths and dims.
func v1(testing.TB) []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	str := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
	b = append(b, "GGUF"...)
	u32(1)
	u32(1) // tensors
	u32(2) // kvs
	str("general.architecture")
	u32(uint32(TypeString))
	str("llama")
	str("ids")
	u32(uint32(TypeArray))
	u32(uint32(TypeUint32))
	u32(2)
	u32(7)
	u32(9)
	str("w")
	u32(2)
	u32(2)
	u32(3)
	u32(uint32(GGMLF32))
	b = binary.LittleEndian.AppendUint64(b, 0)
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	for i := 0; i < 6; i++ {
		u32(math.Float32bits(float32(i)))
	}
	return b
}

func TestVersion1(t *testing.T) {
	f := mustRead(t, v1(t))
	if f.Version != 1 || f.DataOffset != 128 {
		t.Fatalf("version %d, data offset %d", f.Version, f.DataOffset)
	}
	ids, _ := f.GetArray("ids")
	if !reflect.DeepEqual(ids.Values, []uint32{7, 9}) {
		t.Errorf("ids = %v", ids)
	}
	w, _ := f.Tensor("w")
	if !reflect.DeepEqual(w.Dims, []uint64{2, 3}) || w.Size != 24 {
		t.Errorf("w = %+v", w)
	}
	data, err := f.TensorData("w")
	if err != nil || math.Float32frombits(binary.LittleEndian.Uint32(data[20:])) != 5 {
		t.Errorf("w data %v, %v", data, err)
	}
}
