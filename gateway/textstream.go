package gateway

import (
	"strings"
	"unicode/utf8"
)

// textFilter turns decoded token pieces into output text. It ends the text
// at the first stop string and holds back any tail that could still become a
// stop string or is an incomplete UTF-8 sequence, so nothing emitted is ever
// retracted. The same filter serves streamed and non-streamed responses.
type textFilter struct {
	stops   []string
	pending string // decoded but not yet emitted
	stopped bool
}

func newTextFilter(stops []string) *textFilter {
	return &textFilter{stops: stops}
}

// push adds piece and returns the text that is now safe to emit and whether
// a stop string matched (after which nothing more is emitted).
func (f *textFilter) push(piece string) (out string, stopped bool) {
	if f.stopped {
		return "", true
	}
	f.pending += piece
	if i := f.firstStop(); i >= 0 {
		out, f.pending, f.stopped = f.pending[:i], "", true
		return out, true
	}
	keep := max(f.stopPrefixLen(), partialRuneLen(f.pending))
	cut := len(f.pending) - keep
	out, f.pending = f.pending[:cut], f.pending[cut:]
	return out, false
}

// flush returns what is held back once generation has ended without a stop string.
func (f *textFilter) flush() string {
	out := f.pending
	f.pending = ""
	return out
}

// firstStop returns the earliest index at which a stop string occurs in
// pending, or -1.
func (f *textFilter) firstStop() int {
	best := -1
	for _, s := range f.stops {
		if i := strings.Index(f.pending, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// stopPrefixLen returns the length of the longest suffix of pending that is
// a proper prefix of some stop string.
func (f *textFilter) stopPrefixLen() int {
	best := 0
	for _, s := range f.stops {
		for n := min(len(s)-1, len(f.pending)); n > best; n-- {
			if strings.HasSuffix(f.pending, s[:n]) {
				best = n
				break
			}
		}
	}
	return best
}

// partialRuneLen returns the length of an incomplete UTF-8 sequence at the
// end of s (0 if s ends on a rune boundary or with invalid bytes that no
// continuation can repair).
func partialRuneLen(s string) int {
	for n := 1; n <= utf8.UTFMax-1 && n <= len(s); n++ {
		b := s[len(s)-n]
		if b < utf8.RuneSelf {
			return 0 // ASCII: complete
		}
		if utf8.RuneStart(b) {
			if !utf8.FullRuneInString(s[len(s)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}
