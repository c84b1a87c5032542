package contract

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// sortedKeys returns m's keys in cmp order: the only way this package
// iterates a map.
func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	return slices.SortedFunc(maps.Keys(m), cmp)
}

func cmpBytes(a, b []byte) int { return bytes.Compare(a, b) }

func cmpAddr(a, b Address) int { return bytes.Compare(a[:], b[:]) }

func cmpHash(a, b Hash) int { return bytes.Compare(a[:], b[:]) }

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// satAdd adds two non-negative nanosecond values, saturating at MaxInt64.
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satMul multiplies two non-negative values, saturating at MaxInt64.
func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

func itoa(v int) string    { return strconv.Itoa(v) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// ev builds an event from alternating keys and values.
func ev(typ string, kv ...string) Event {
	e := Event{Type: typ, Attrs: make([]Attr, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attr{kv[i], kv[i+1]})
	}
	return e
}

func ok(evs ...Event) TxResult { return TxResult{Code: CodeOK, Events: evs} }

func fail(code uint32, format string, args ...any) TxResult {
	return TxResult{Code: code, Log: fmt.Sprintf(format, args...)}
}

// credit adds v to a's balance. The total supply fits in uint64, so an
// overflow is a broken invariant.
func (s *st) credit(a Address, v uint64) {
	ac := s.acct(a)
	n, okAdd := add(ac.Balance, v)
	if !okAdd {
		panic("contract: balance overflow (supply invariant broken)")
	}
	ac.Balance = n
}

// debit subtracts v from a's balance; callers have checked it.
func (s *st) debit(a Address, v uint64) {
	ac := s.acct(a)
	n, okSub := sub(ac.Balance, v)
	if !okSub {
		panic("contract: negative balance (checked before apply)")
	}
	ac.Balance = n
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }
