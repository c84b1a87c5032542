package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/splitup/splitup/models/gguf"
)

func refPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference file %s not available (%v); it lives in ../shared/models next to the module", name, err)
	}
	return p
}

func load(t *testing.T, name string) *Tokenizer {
	t.Helper()
	tok, err := LoadLlama2C(refPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLlama2Tokenizer(t *testing.T) {
	tok := load(t, "tokenizer.bin")
	if tok.VocabSize() != 32000 {
		t.Fatalf("vocab %d", tok.VocabSize())
	}
	got := tok.Encode("I believe the meaning of life is", true, false)
	want := []int{1, 306, 4658, 278, 6593, 310, 2834, 338}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
	if s := tok.DecodeAll(got); s != "I believe the meaning of life is" {
		t.Fatalf("DecodeAll = %q", s)
	}
	raw, _ := os.ReadFile(refPath(t, "tokenizer.bin"))
	if !bytes.Equal(tok.MarshalLlama2C(), raw) {
		t.Fatal("MarshalLlama2C does not reproduce tokenizer.bin")
	}
}

var sentences = []string{
	"Once upon a time, there was a little girl named Lily.",
	"She loved to play outside in the park.",
	"Hello  world\n\tTabs, \"quotes\" and 123 numbers!",
	"Ünïcödé — 日本語 🙂",
	"",
	" ",
}

func TestTok512MatchesGGUF(t *testing.T) {
	bin := load(t, "tok512.bin")
	f, err := gguf.Open(refPath(t, "tinyllamas-stories-260k-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gg, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if bin.VocabSize() != 512 || gg.VocabSize() != 512 {
		t.Fatalf("vocab sizes %d, %d", bin.VocabSize(), gg.VocabSize())
	}
	for _, s := range sentences {
		a, b := bin.Encode(s, true, true), gg.Encode(s, true, true)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q: tok512.bin %v, gguf %v", s, a, b)
		}
		if d := bin.DecodeAll(a); d != s && !(s == " " && d == "") {
			t.Errorf("%q decodes to %q", s, d)
		}
	}
	// The metadata written back out matches what the GGUF holds.
	md := bin.GGUFMetadata()
	toks, _ := f.GetStrings(KeyTokens)
	if got := md[1].Value.Data.(gguf.Array).Values.([]string); !reflect.DeepEqual(got, toks) {
		for i := range got {
			if got[i] != toks[i] {
				t.Fatalf("token %d: %q, gguf has %q", i, got[i], toks[i])
			}
		}
	}
	types, _ := f.GetInt32s(KeyTokenType)
	if got := md[3].Value.Data.(gguf.Array).Values.([]int32); !reflect.DeepEqual(got, types) {
		t.Errorf("token types differ from the GGUF's")
	}
}

func TestTieBreakAndFallback(t *testing.T) {
	// ab and bc both score 1: the leftmost pair wins.
	pieces := []string{"<unk>", "<s>", "</s>", " ", "a", "b", "c", "ab", "bc", " ab"}
	scores := []float32{0, 0, 0, 0, 0, 0, 0, 1, 1, 2}
	tok, err := New(pieces, scores, nil, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("abc", false, false); !reflect.DeepEqual(got, []int{9, 6}) {
		t.Errorf("Encode(abc) = %v, want [9 6]", got)
	}
	// No byte tokens and fewer than 259 ids: unknown codepoints become <unk>.
	if got := tok.Encode("z", true, true); !reflect.DeepEqual(got, []int{1, 3, 0, 2}) {
		t.Errorf("Encode(z) = %v", got)
	}
}

func FuzzParseLlama2C(f *testing.F) {
	tok, _ := New([]string{"<unk>", "\n<s>\n", "\n</s>\n", "<0x41>", " ", "a", " a"}, []float32{0, 0, 0, 0, -1, -2, -3}, nil, 1, 2)
	f.Add(tok.MarshalLlama2C())
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "models", "tok512.bin")); err == nil {
		f.Add(b)
	}
	f.Add([]byte{7, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseLlama2C(b)
		if err != nil {
			return
		}
		if !bytes.Equal(tok.MarshalLlama2C(), b) {
			t.Fatal("parse → marshal changed the bytes")
		}
		text := string(b[4:min(len(b), 40)])
		ids := tok.Encode(text, true, true)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("id %d outside the vocabulary", id)
			}
		}
		if utf8.ValidString(text) {
			_ = tok.DecodeAll(ids)
		}
	})
}
