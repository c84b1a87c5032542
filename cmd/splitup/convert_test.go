package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
	"github.com/splitup/splitup/models/gguf"
	"github.com/splitup/splitup/models/tokenizer"
)

// sharedModel returns the path of a reference model file, skipping the test
// when ../shared/models is not there.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference model %s not available (%v); it lives in ../shared/models next to the module", name, err)
	}
	return p
}

// runSplitup runs the command line and returns the exit code and both outputs.
func runSplitup(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func openGGUF(t *testing.T, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tensorFloats(t *testing.T, f *gguf.File, name string) []float32 {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	dt, err := ti.DType()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.TensorData(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, ti.Elements())
	if err := kernels.Dequantize(out, raw, dt); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConvertStoriesF32(t *testing.T) {
	bin, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	ref := openGGUF(t, sharedModel(t, "tinyllamas-stories-260k-f32.gguf"))
	out := filepath.Join(t.TempDir(), "s.gguf")
	code, _, stderr := runSplitup(t, "convert", "--in", bin, "--tokenizer", tok, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f := openGGUF(t, out)
	if f.Version != 3 || len(f.Tensors) != 47 {
		t.Fatalf("version %d, %d tensors", f.Version, len(f.Tensors))
	}
	// Every tensor is bit-identical to the independently converted GGUF.
	for _, ti := range f.Tensors {
		want, ok := ref.Tensor(ti.Name)
		if !ok || !reflect.DeepEqual(ti.Dims, want.Dims) || ti.Type != gguf.GGMLF32 {
			t.Fatalf("%s: %v %v, reference %v", ti.Name, ti.Dims, ti.Type, want.Dims)
		}
		a, _ := f.TensorData(ti.Name)
		b, _ := ref.TensorData(ti.Name)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs from the reference GGUF", ti.Name)
		}
	}
	for key, want := range map[string]uint64{
		"llama.context_length": 512, "llama.embedding_length": 64, "llama.block_count": 5,
		"llama.feed_forward_length": 172, "llama.rope.dimension_count": 8,
		"llama.attention.head_count": 8, "llama.attention.head_count_kv": 4,
		"general.file_type": 0, "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2,
	} {
		if got, err := f.GetUint(key); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, err, want)
		}
	}
	if arch, _ := f.GetString("general.architecture"); arch != "llama" {
		t.Errorf("architecture %q", arch)
	}
	// The embedded tokenizer is the reference GGUF's.
	for _, key := range []string{tokenizer.KeyTokens, tokenizer.KeyScores, tokenizer.KeyTokenType} {
		a, _ := f.GetArray(key)
		b, _ := ref.GetArray(key)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs from the reference GGUF", key)
		}
	}
}

func TestConvertQuantized(t *testing.T) {
	bin, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	ref := openGGUF(t, sharedModel(t, "tinyllamas-stories-260k-f32.gguf"))
	for _, dt := range []ir.DType{ir.F16, ir.Q8_0, ir.Q4_0} {
		out := filepath.Join(t.TempDir(), dt.String()+".gguf")
		code, _, stderr := runSplitup(t, "convert", "--in", bin, "--tokenizer", tok, "--out", out, "--dtype", dt.String())
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", dt, code, stderr)
		}
		if dt.Quantized() && !strings.Contains(stderr, "blk.0.ffn_down.weight") || !strings.Contains(stderr, "not a multiple of 32") && dt.Quantized() {
			t.Errorf("%v: stderr does not explain the ffn_down fallback:\n%s", dt, stderr)
		}
		f := openGGUF(t, out)
		want := map[string]gguf.GGMLType{"blk.0.attn_norm.weight": gguf.GGMLF32, "blk.0.attn_q.weight": gguf.GGMLF16, "blk.0.ffn_down.weight": gguf.GGMLF16}
		if dt.Quantized() {
			gt, _ := gguf.GGMLTypeOf(dt)
			want["blk.0.attn_q.weight"] = gt
		}
		for name, typ := range want {
			if ti, _ := f.Tensor(name); ti.Type != typ {
				t.Errorf("%v: %s stored as %v, want %v", dt, name, ti.Type, typ)
			}
		}
		tol := map[ir.DType]float64{ir.F16: 1e-3, ir.Q8_0: 1e-2, ir.Q4_0: 0.2}[dt]
		for _, name := range []string{"token_embd.weight", "blk.2.attn_k.weight", "blk.2.ffn_down.weight"} {
			got, orig := tensorFloats(t, f, name), tensorFloats(t, ref, name)
			var num, den float64
			for i := range got {
				num += math.Abs(float64(got[i] - orig[i]))
				den += math.Abs(float64(orig[i]))
			}
			if num/den > tol {
				t.Errorf("%v: %s relative L1 error %.4f > %v", dt, name, num/den, tol)
			}
		}
	}
}

func TestConvertGGUFv1(t *testing.T) {
	in := sharedModel(t, "tinyllamas-stories-260k-f32.gguf")
	out := filepath.Join(t.TempDir(), "v3.gguf")
	if code, _, stderr := runSplitup(t, "convert", "--in", in, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ref, f := openGGUF(t, in), openGGUF(t, out)
	if f.Version != 3 || len(f.Tensors) != len(ref.Tensors) {
		t.Fatalf("version %d, %d tensors", f.Version, len(f.Tensors))
	}
	for _, ti := range ref.Tensors {
		a, _ := ref.TensorData(ti.Name)
		b, err := f.TensorData(ti.Name)
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s changed: %v", ti.Name, err)
		}
	}
	if s, _ := f.GetString("llama.tensor_data_layout"); s != "Meta AI original pth" {
		t.Errorf("input metadata not carried over: layout %q", s)
	}
	if _, err := tokenizer.FromGGUF(f); err != nil {
		t.Error(err)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("this is not a model at all, just some text"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"convert", "--out", "x.gguf"}, 2, "--in is required"},
		{[]string{"convert", "--in", junk}, 2, "--out is required"},
		{[]string{"convert", "--in", junk, "--out", "x", "--dtype", "q5"}, 2, "--dtype"},
		{[]string{"convert", "--in", filepath.Join(dir, "missing.bin"), "--out", filepath.Join(dir, "o.gguf")}, 1, "check the --in path"},
		{[]string{"convert", "--in", junk, "--out", filepath.Join(dir, "o.gguf")}, 1, "llama2.c"},
	}
	for _, c := range cases {
		code, _, stderr := runSplitup(t, c.args...)
		if code != c.code || !strings.Contains(stderr, "splitup: error:") || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o.gguf")); err == nil {
		t.Error("a failed conversion left an output file")
	}
	if bin := filepath.Join("..", "..", "..", "shared", "models", "stories260K.bin"); fileExists(bin) {
		// The 32000-token tokenizer does not fit the 512-token model.
		code, _, stderr := runSplitup(t, "convert", "--in", bin, "--tokenizer", sharedModel(t, "tokenizer.bin"), "--out", filepath.Join(dir, "o.gguf"))
		if code != 1 || !strings.Contains(stderr, "32000") {
			t.Errorf("mismatched tokenizer: exit %d, %s", code, stderr)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// A quantised GGUF converts back to f32 as its dequantised values.
func TestConvertQuantizedGGUFInput(t *testing.T) {
	bin, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	dir := t.TempDir()
	q8, f32 := filepath.Join(dir, "q8.gguf"), filepath.Join(dir, "f32.gguf")
	if code, _, stderr := runSplitup(t, "convert", "--in", bin, "--tokenizer", tok, "--out", q8, "--dtype", "q8_0"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runSplitup(t, "convert", "--in", q8, "--out", f32); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a, b := openGGUF(t, q8), openGGUF(t, f32)
	for _, ti := range a.Tensors {
		want, got := tensorFloats(t, a, ti.Name), tensorFloats(t, b, ti.Name)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: f32 copy differs from the dequantised q8_0 tensor", ti.Name)
		}
		if bt, _ := b.Tensor(ti.Name); bt.Type != gguf.GGMLF32 {
			t.Errorf("%s stored as %v", ti.Name, bt.Type)
		}
	}
	if ft, _ := b.GetUint("general.file_type"); ft != 0 {
		t.Errorf("file_type %d, want 0", ft)
	}
}
