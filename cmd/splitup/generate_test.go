package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedModels is ../shared/models seen from this package's directory.
const sharedModels = "../../../shared/models"

// llama2cGreedy is llama2.c's own expected output for
// `run stories260K.bin -z tok512.bin -t 0.0 -n 200`.
const llama2cGreedy = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n" +
	"Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\n" +
	"Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n" +
	"Lily didn't want to help her mom, so she"

// llama2cSampled is llama2.c's output for `-t 1 -p 1 -s 42 -n 200`.
const llama2cSampled = "Once upon a time, there was a big roof. The fox was ready to look for people inside. He saw a big rock near a big tree. The roof was very small and fun! He ate the roof too. He got a shiny stool, so he sicked the roof with his friend, the girl named Mia.\n" +
	"\"Help, Mia. Why are you sad, Mia?\" she asked.\n" +
	"\"I want to try us,\" Mia said. \"It is cute. We have to find one of smells!\"\n" +
	"Mia felt proud of"

// llama2cNucleus is llama2.c's output for `-t 1 -p 0.95 -s 42 -n 200`.
const llama2cNucleus = "Once upon a time, there was a little boy named Timmy. Timmy loved going to the park with his mom. One day, Lily went outside to play outside in her pocket. He was scared and didn't know where to buy some colorful animals.\n" +
	"Later that day, Timmy's mom came outside and saw Timmy just playing in the shore. She didn't see that made him happy, but Timmy's mom said he had to sort his cobwebs and write cold colors. Timmy asked his mom if he was amazed! His mom"

func needModels(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedModels, "stories260K.bin")); err != nil {
		t.Skipf("reference models not found at %s: %v", sharedModels, err)
	}
}

// splitup runs the command in-process and returns stdout, failing on error.
func splitup(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("splitup %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func generate(t *testing.T, model string, extra ...string) string {
	t.Helper()
	args := append([]string{"generate", "--model", model, "--temperature", "0", "--max-tokens", "200", "--threads", "2"}, extra...)
	return strings.TrimSuffix(splitup(t, args...), "\n")
}

func TestGenerateMatchesLlama2c(t *testing.T) {
	needModels(t)
	tok := filepath.Join(sharedModels, "tok512.bin")
	bin := filepath.Join(sharedModels, "stories260K.bin")
	if got := generate(t, bin, "--tokenizer", tok); got != llama2cGreedy {
		t.Fatalf("stories260K.bin greedy:\n got %q\nwant %q", got, llama2cGreedy)
	}
	if got := generate(t, bin, "--tokenizer", tok, "--reference"); got != llama2cGreedy {
		t.Fatalf("reference kernels greedy:\n got %q", got)
	}
	gguf1 := filepath.Join(sharedModels, "tinyllamas-stories-260k-f32.gguf")
	if got := generate(t, gguf1); got != llama2cGreedy {
		t.Fatalf("GGUF v1 with embedded tokenizer:\n got %q", got)
	}
	dir := t.TempDir()
	v3 := filepath.Join(dir, "v3.gguf")
	splitup(t, "convert", "--in", bin, "--tokenizer", tok, "--out", v3)
	if got := generate(t, v3); got != llama2cGreedy {
		t.Fatalf("converted GGUF v3:\n got %q", got)
	}
	q8 := filepath.Join(dir, "q8.gguf")
	splitup(t, "convert", "--in", bin, "--tokenizer", tok, "--out", q8, "--dtype", "q8_0")
	got := generate(t, q8)
	first := "Once upon a time, there was a little girl named Lily."
	if !strings.HasPrefix(got, first) {
		t.Fatalf("Q8_0 first sentence:\n got %q\nwant %q...", got, first)
	}
	t.Logf("Q8_0 agrees with F32 on the first %d bytes", commonPrefix(got, llama2cGreedy))
}

func TestGenerateSamplingMatchesLlama2c(t *testing.T) {
	needModels(t)
	args := func(topp string) []string {
		return []string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin"), "--tokenizer", filepath.Join(sharedModels, "tok512.bin"),
			"--temperature", "1", "--top-p", topp, "--seed", "42", "--max-tokens", "200"}
	}
	if got := strings.TrimSuffix(splitup(t, args("1")...), "\n"); got != llama2cSampled {
		t.Errorf("t=1 p=1 s=42:\n got %q\nwant %q", got, llama2cSampled)
	}
	if got := strings.TrimSuffix(splitup(t, args("0.95")...), "\n"); got != llama2cNucleus {
		t.Errorf("t=1 p=0.95 s=42:\n got %q\nwant %q", got, llama2cNucleus)
	}
}

func TestGenerateErrors(t *testing.T) {
	needModels(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, []byte("not a model at all, just some bytes"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"generate"}, "--model is required"},
		{[]string{"generate", "--model", filepath.Join(dir, "missing.gguf")}, "no such file"},
		{[]string{"generate", "--model", bad}, "llama2.c"},
		{[]string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin")}, "--tokenizer"},
		{[]string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin"), "--tokenizer", filepath.Join(sharedModels, "tokenizer.bin")}, "vocabulary of 512"},
		{[]string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin"), "--max-tokens", "0"}, "--max-tokens"},
		{[]string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin"), "--temperature", "NaN"}, "--temperature must be a finite number"},
		{[]string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin"), "--temperature", "1e39"}, "--temperature must be a finite number"},
		{[]string{"generate", "--model", filepath.Join(sharedModels, "stories260K.bin"), "--top-p", "NaN"}, "--top-p must be in (0, 1]"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "splitup: error:") {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", c.args, code, errb.String(), c.want)
		}
	}
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
