package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitup/splitup/models/gguf"
	"github.com/splitup/splitup/models/tokenizer"
)

func TestSynth(t *testing.T) {
	dir := t.TempDir()
	args := []string{"synth", "--dim", "64", "--hidden", "96", "--layers", "2", "--heads", "4", "--kv-heads", "2",
		"--vocab", "300", "--context", "128", "--dtype", "q8_0", "--seed", "7"}
	var files [][]byte
	for i, threads := range []string{"1", "3"} {
		out := filepath.Join(dir, "syn"+threads+".gguf")
		code, _, stderr := runSplitup(t, append(args, "--out", out, "--threads", threads)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "NOT a trained model") {
			t.Errorf("stderr does not say the model is untrained: %q", stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
		if i == 0 {
			checkSynth(t, out)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("the same seed gave different files with 1 and 3 threads")
	}
	other := filepath.Join(dir, "seed8.gguf")
	runSplitup(t, append(args[:len(args)-1], "8", "--out", other)...)
	if b, _ := os.ReadFile(other); bytes.Equal(b, files[0]) {
		t.Fatal("seeds 7 and 8 gave the same file")
	}
}

func checkSynth(t *testing.T, path string) {
	f := openGGUF(t, path)
	if len(f.Tensors) != 1+9*2+1 {
		t.Fatalf("%d tensors", len(f.Tensors))
	}
	if syn, err := f.GetBool("splitup.synthetic"); err != nil || !syn {
		t.Errorf("splitup.synthetic = %v, %v", syn, err)
	}
	if _, ok := f.Tensor("output.weight"); ok {
		t.Error("tied model has output.weight")
	}
	if ti, _ := f.Tensor("blk.0.attn_k.weight"); len(ti.Dims) != 2 || ti.Dims[1] != 32 || ti.Type != gguf.GGMLQ8_0 {
		t.Errorf("attn_k = %+v", ti)
	}
	w := tensorFloats(t, f, "blk.1.ffn_up.weight")
	var sum, sq float64
	for _, v := range w {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean := sum / float64(len(w))
	std := math.Sqrt(sq/float64(len(w)) - mean*mean)
	if math.Abs(mean) > 0.002 || math.Abs(std-0.02) > 0.002 {
		t.Errorf("weights mean %v std %v, want ≈ 0 and 0.02", mean, std)
	}
	if norm := tensorFloats(t, f, "output_norm.weight"); norm[0] != 1 {
		t.Errorf("norm weight %v, want 1", norm[0])
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello, wörld!"
	ids := tok.Encode(text, true, false)
	if len(ids) != 1+1+len(text) || tok.DecodeAll(ids) != " "+text {
		t.Errorf("byte tokenizer: %v → %q", ids, tok.DecodeAll(ids))
	}
}

func TestSynthUntiedAndErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "u.gguf")
	code, _, stderr := runSplitup(t, "synth", "--out", out, "--dim", "32", "--hidden", "40", "--layers", "1", "--heads", "2", "--untied", "--dtype", "f16")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f := openGGUF(t, out)
	if ti, ok := f.Tensor("output.weight"); !ok || ti.Type != gguf.GGMLF16 {
		t.Errorf("output.weight = %+v, %v", ti, ok)
	}
	for _, args := range [][]string{
		{"synth", "--out", out},
		{"synth", "--out", out, "--dim", "30", "--hidden", "8", "--layers", "1", "--heads", "4"},
		{"synth", "--out", out, "--dim", "32", "--hidden", "8", "--layers", "1", "--heads", "4", "--kv-heads", "3"},
		{"synth", "--out", out, "--dim", "32", "--hidden", "8", "--layers", "1", "--heads", "4", "--vocab", "100"},
	} {
		if code, _, stderr := runSplitup(t, args...); code != 2 || !strings.Contains(stderr, "splitup: error:") {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
}
