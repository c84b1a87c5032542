package tokenizer

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// mergeQuadratic is the plain form of merge: every round scans every pair
// for the best. pair[i] caches the token that tokens i and i+1 merge into,
// or -1. Tests hold merge to it.
func (t *Tokenizer) mergeQuadratic(toks []int32) []int32 {
	if len(toks) < 2 {
		return toks
	}
	var buf []byte
	pairOf := func(a, b int32) int32 {
		buf = append(append(buf[:0], t.pieces[a]...), t.pieces[b]...)
		if id, ok := t.lookup[string(buf)]; ok {
			return id
		}
		return -1
	}
	pair := make([]int32, len(toks)-1)
	for i := range pair {
		pair[i] = pairOf(toks[i], toks[i+1])
	}
	for {
		best, bestScore := -1, float32(-1e10)
		for i, id := range pair {
			if id >= 0 && t.scores[id] > bestScore {
				best, bestScore = i, t.scores[id]
			}
		}
		if best < 0 {
			return toks
		}
		toks[best] = pair[best]
		toks = append(toks[:best+1], toks[best+2:]...)
		pair = append(pair[:best], pair[best+1:]...)
		if best > 0 {
			pair[best-1] = pairOf(toks[best-1], toks[best])
		}
		if best < len(pair) {
			pair[best] = pairOf(toks[best], toks[best+1])
		}
	}
}

// TestMergeMatchesQuadratic: the heap merge gives the scan's tokens on
// text of every kind (ASCII words, repeated runs that tie, multi-byte
// characters, bytes that need fallback) with both reference vocabularies.
func TestMergeMatchesQuadratic(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	words := []string{"the", "meaning", "of", "life", "is", " ", "  ", "aaaa", "ababab", "é", "日本", "ü", "\x00", "\xff", "\n", "Once upon a time", "zzzz", "🙂", "---", "1234"}
	for _, name := range []string{"tok512.bin", "tokenizer.bin"} {
		tok := load(t, name)
		for n := range 300 {
			var b strings.Builder
			for range r.Intn(4 * (n%40 + 1)) {
				b.WriteString(words[r.Intn(len(words))])
			}
			text := b.String()
			raw := tok.appendText(tok.appendCodepoint(nil, " "), text)
			want := tok.mergeQuadratic(slices.Clone(raw))
			if got := tok.merge(slices.Clone(raw)); !slices.Equal(got, want) {
				t.Fatalf("%s: %q: merge %v, quadratic %v", name, text, got, want)
			}
		}
	}
}

// FuzzMergeMatchesQuadratic holds the heap merge to the scan on any text,
// with the 512-token vocabulary (whose merges reach every byte pattern).
func FuzzMergeMatchesQuadratic(f *testing.F) {
	p := refPath(f, "tok512.bin")
	tok, err := LoadLlama2C(p)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "a", "Once upon a time", "aaaaaaaa", "\x00\xff\xfe", "日本語 text", "the the the the"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		raw := tok.appendText(tok.appendCodepoint(nil, " "), text)
		want := tok.mergeQuadratic(slices.Clone(raw))
		if got := tok.merge(slices.Clone(raw)); !slices.Equal(got, want) {
			t.Fatalf("%q: merge %v, quadratic %v", text, got, want)
		}
	})
}

// BenchmarkEncodeLong encodes 32 KiB of prose with the 32000-token
// vocabulary, by the heap merge and by the scan, alternating with -count.
func BenchmarkEncodeLong(b *testing.B) {
	p := refPath(b, "tokenizer.bin")
	tok, err := LoadLlama2C(p)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("Once upon a time, there was a little girl named Lily. She loved to play outside. ", 500)[:32<<10]
	raw := tok.appendText(tok.appendCodepoint(nil, " "), text)
	for _, c := range []struct {
		name string
		f    func([]int32) []int32
	}{{"heap", tok.merge}, {"scan", tok.mergeQuadratic}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				c.f(slices.Clone(raw))
			}
		})
	}
}
