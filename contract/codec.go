package contract

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrDecode is wrapped by every decoding failure of a tx or snapshot.
var ErrDecode = errors.New("malformed encoding")

// Limits of the canonical encodings; decoders check them before allocating.
const (
	MaxTxBytes   = 1 << 20 // largest encoded tx
	maxString    = 256     // bytes in any string field
	maxList      = 4096    // elements in any list field
	maxRank      = 8       // dims of a tensor shape
	txMagic      = "SUTX"
	txVersion    = 2 // 2: Params gained RetainNanos
	snapMagic    = "SUST"
	snapVersion  = 2 // 2: Params.RetainNanos, execution.Closed, verification.Disputed and Unpaid
	headerLength = len(txMagic) + 1
)

// encoder appends fixed-width big-endian fields; its output is canonical.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) h(v [32]byte) { e.b = append(e.b, v[:]...) }
func (e *encoder) str(s string) { e.u16(uint16(len(s))); e.b = append(e.b, s...) }
func (e *encoder) flag(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// list writes a count prefix.
func (e *encoder) list(n int) { e.u32(uint32(n)) }

// decoder reads what encoder writes. The first failure sticks in err and
// every later read returns zero values, so callers check err once.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrDecode, what, d.off)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("truncated")
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) h() (v [32]byte) {
	copy(v[:], d.take(32))
	return v
}

func (d *decoder) str() string {
	n := int(d.u16())
	if n > maxString {
		d.fail("string too long")
		return ""
	}
	return string(d.take(n))
}

func (d *decoder) flag() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad bool")
	return false
}

// list reads a count and checks that count × minElem bytes remain, so a
// hostile count never causes a large allocation.
func (d *decoder) list(minElem int) int {
	n := int(d.u32())
	if d.err != nil {
		return 0
	}
	if n > maxList || n*minElem > len(d.b)-d.off {
		d.fail("list too long")
		return 0
	}
	return n
}

// done fails unless every byte was consumed.
func (d *decoder) done() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	return d.err
}

func sha(b []byte) Hash { return sha256.Sum256(b) }

// String returns the lower-case hex form.
func (a Address) String() string { return hex.EncodeToString(a[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (a *Address) UnmarshalText(b []byte) error { return parseHex32((*[32]byte)(a), string(b)) }

// ParseAddress parses the hex form of an address.
func ParseAddress(s string) (Address, error) {
	var a Address
	err := parseHex32((*[32]byte)(&a), s)
	return a, err
}

// String returns the lower-case hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (h *Hash) UnmarshalText(b []byte) error { return parseHex32((*[32]byte)(h), string(b)) }

// ParseHash parses the hex form of a hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := parseHex32((*[32]byte)(&h), s)
	return h, err
}

func parseHex32(dst *[32]byte, s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%w: want 64 hex digits, got %d characters", ErrDecode, len(s))
	}
	if _, err := hex.Decode(dst[:], []byte(s)); err != nil {
		return fmt.Errorf("%w: bad hex", ErrDecode)
	}
	return nil
}
