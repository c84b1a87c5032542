package gateway

import (
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTextFilterTable(t *testing.T) {
	tests := []struct {
		name    string
		stops   []string
		pieces  []string
		emitted []string // per push, then flush
		stopped bool
	}{
		{"no stops", nil, []string{"a", "b"}, []string{"a", "b", ""}, false},
		{"stop inside piece", []string{"END"}, []string{"abENDcd"}, []string{"ab"}, true},
		{"stop across pieces", []string{"END"}, []string{"abE", "N", "Dx"}, []string{"ab", "", ""}, true},
		{"false start released", []string{"END"}, []string{"abE", "Nx", "y"}, []string{"ab", "ENx", "y", ""}, false},
		{"held at the end is flushed", []string{"END"}, []string{"xEN"}, []string{"x", "EN"}, false},
		{"earliest stop wins", []string{"cd", "bcde"}, []string{"abcdef"}, []string{"a"}, true},
		{"longest held prefix", []string{"ab", "aab"}, []string{"xaa", "b"}, []string{"x", ""}, true},
		{"utf8 held", nil, []string{"h\xc3", "\xa9!"}, []string{"h", "é!", ""}, false},
		{"utf8 4-byte", nil, []string{"\xf0\x9f", "\x98", "\x80"}, []string{"", "", "😀", ""}, false},
		{"invalid byte passes", nil, []string{"a\xff"}, []string{"a\xff", ""}, false},
		{"stop at start", []string{"\n"}, []string{"\nfoo"}, []string{""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTextFilter(tt.stops)
			var got []string
			stopped := false
			for _, p := range tt.pieces {
				out, s := f.push(p)
				got = append(got, out)
				if s {
					stopped = true
					break
				}
			}
			if !stopped {
				got = append(got, f.flush())
			}
			if strings.Join(got, "|") != strings.Join(tt.emitted, "|") || stopped != tt.stopped {
				t.Errorf("got %q stopped=%v, want %q stopped=%v", got, stopped, tt.emitted, tt.stopped)
			}
		})
	}
}

// refStop is the dumb reference: cut the whole text at the earliest stop string.
func refStop(text string, stops []string) (string, bool) {
	best := -1
	for _, s := range stops {
		if i := strings.Index(text, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return text, false
	}
	return text[:best], true
}

// Property: whatever the split into pieces, the emitted text equals the
// reference cut of the concatenation, and every emitted chunk is valid UTF-8
// when the input is.
func TestTextFilterSplitsAgree(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	alphabet := []string{"a", "b", "c", "é", "😀", " ", "\n"}
	for trial := 0; trial < 3000; trial++ {
		var sb strings.Builder
		for i := rnd.Intn(30); i > 0; i-- {
			sb.WriteString(alphabet[rnd.Intn(len(alphabet))])
		}
		text := sb.String()
		var stops []string
		for i := rnd.Intn(3); i > 0; i-- {
			var s strings.Builder
			for j := 1 + rnd.Intn(3); j > 0; j-- {
				s.WriteString(alphabet[rnd.Intn(len(alphabet))])
			}
			stops = append(stops, s.String())
		}
		f := newTextFilter(stops)
		var got strings.Builder
		stopped := false
		for rest := text; rest != "" && !stopped; {
			n := 1 + rnd.Intn(len(rest))
			out, s := f.push(rest[:n])
			if !utf8.ValidString(out) {
				t.Fatalf("emitted invalid UTF-8 %q", out)
			}
			got.WriteString(out)
			stopped = s
			rest = rest[n:]
		}
		if !stopped {
			got.WriteString(f.flush())
		}
		want, wantStop := refStop(text, stops)
		if got.String() != want || stopped != wantStop {
			t.Fatalf("text %q stops %q: got %q (%v), want %q (%v)", text, stops, got.String(), stopped, want, wantStop)
		}
	}
}
