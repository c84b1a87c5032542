package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/splitup/splitup/ir"
)

// rawChunk is the size from which the encoder sends a byte slice as its
// own chunk instead of copying it.
const rawChunk = 4 << 10

// encoder builds a message as a list of chunks: small fields are copied
// into a scratch buffer, tensor data is referenced, not copied.
type encoder struct {
	chunks [][]byte
	cur    []byte
	n      int64
}

func (e *encoder) u32(v uint32) { e.cur = binary.LittleEndian.AppendUint32(e.cur, v); e.n += 4 }
func (e *encoder) u64(v uint64) { e.cur = binary.LittleEndian.AppendUint64(e.cur, v); e.n += 8 }

func (e *encoder) raw(b []byte) {
	e.n += int64(len(b))
	if len(b) < rawChunk {
		e.cur = append(e.cur, b...)
		return
	}
	if len(e.cur) > 0 {
		e.chunks = append(e.chunks, e.cur)
		e.cur = nil
	}
	e.chunks = append(e.chunks, b)
}

func (e *encoder) str(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s of %d bytes > %d", ErrTooLarge, what, len(s), max)
	}
	e.u32(uint32(len(s)))
	e.raw([]byte(s))
	return nil
}

// name writes a tensor name that passed checkName.
func (e *encoder) name(n string) {
	e.u32(uint32(len(n)))
	e.raw([]byte(n))
}

func (e *encoder) tensors(ts []NamedTensor) error {
	if len(ts) > MaxTensorsPerMessage {
		return fmt.Errorf("%w: %d tensors > %d", ErrTooLarge, len(ts), MaxTensorsPerMessage)
	}
	e.u32(uint32(len(ts)))
	for i := range ts {
		t := &ts[i]
		if err := checkName(t.Name); err != nil {
			return err
		}
		for j := range i {
			if ts[j].Name == t.Name {
				return fmt.Errorf("%w: tensor %q appears twice", ErrMalformed, t.Name)
			}
		}
		if err := t.Frame.Check(); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		e.name(t.Name)
		h := frameHeader(&t.Frame)
		e.u64(uint64(len(h) + len(t.Frame.Data)))
		e.raw(h)
		e.raw(t.Frame.Data)
	}
	return nil
}

// names writes a list of distinct tensor names.
func (e *encoder) names(ns []string) error {
	if len(ns) > MaxTensorsPerMessage {
		return fmt.Errorf("%w: %d names > %d", ErrTooLarge, len(ns), MaxTensorsPerMessage)
	}
	e.u32(uint32(len(ns)))
	for i, n := range ns {
		if err := checkName(n); err != nil {
			return err
		}
		if slices.Contains(ns[:i], n) {
			return fmt.Errorf("%w: name %q appears twice", ErrMalformed, n)
		}
		e.name(n)
	}
	return nil
}

// encodeChunks returns the message header and payload of m as chunks that
// reference m's tensor data.
func encodeChunks(m Message) ([][]byte, int64, error) {
	if m == nil {
		return nil, 0, fmt.Errorf("encode message: %w: nil message", ErrMalformed)
	}
	e := &encoder{cur: make([]byte, MessageHeaderLen, 256)}
	if err := m.encode(e); err != nil {
		return nil, 0, fmt.Errorf("encode %v: %w", m.Type(), err)
	}
	if len(e.cur) > 0 {
		e.chunks = append(e.chunks, e.cur)
	}
	payload := e.n
	if payload > MaxMessagePayload {
		return nil, 0, fmt.Errorf("encode %v: %w: payload of %d bytes > %d", m.Type(), ErrTooLarge, payload, MaxMessagePayload)
	}
	h := e.chunks[0][:MessageHeaderLen] // reserved by the initial e.cur
	copy(h, MessageMagic)
	h[len(MessageMagic)] = MessageVersion
	h[len(MessageMagic)+1] = byte(m.Type())
	binary.LittleEndian.PutUint64(h[len(MessageMagic)+2:], uint64(payload))
	return e.chunks, int64(MessageHeaderLen) + payload, nil
}

// EncodeMessage returns the wire encoding of m (header and payload).
func EncodeMessage(m Message) ([]byte, error) {
	chunks, n, err := encodeChunks(m)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, n)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// WriteMessage writes the wire encoding of m to w without copying tensor data.
func WriteMessage(w io.Writer, m Message) error {
	chunks, _, err := encodeChunks(m)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return nil
}

// parseHeader checks a message header against the format and lim and
// returns the type and payload length.
func parseHeader(h []byte, lim Limits) (MsgType, int64, error) {
	if string(h[:len(MessageMagic)]) != MessageMagic {
		return 0, 0, fmt.Errorf("%w: bad magic %q, want %q", ErrMalformed, h[:len(MessageMagic)], MessageMagic)
	}
	if v := h[len(MessageMagic)]; v != MessageVersion {
		return 0, 0, fmt.Errorf("%w: message version %d, this build speaks %d", ErrMalformed, v, MessageVersion)
	}
	t := MsgType(h[len(MessageMagic)+1])
	if t < TypeOpenSession || t > lastType {
		return 0, 0, fmt.Errorf("%w: unknown message type %d", ErrMalformed, uint8(t))
	}
	n := binary.LittleEndian.Uint64(h[len(MessageMagic)+2:])
	if max := lim.maxPayload(t); n > uint64(max) {
		return 0, 0, fmt.Errorf("%w: %v message claims %d payload bytes, limit %d", ErrTooLarge, t, n, max)
	}
	return t, int64(n), nil
}

// DecodeMessage parses one whole message. Tensor data in the result
// aliases b.
func DecodeMessage(b []byte, lim Limits) (Message, error) {
	if len(b) < MessageHeaderLen {
		return nil, fmt.Errorf("decode message: %w: %d bytes, shorter than a header", ErrMalformed, len(b))
	}
	t, n, err := parseHeader(b[:MessageHeaderLen], lim)
	if err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	if have := int64(len(b) - MessageHeaderLen); have != n {
		return nil, fmt.Errorf("decode message: %w: header says %d payload bytes, have %d", ErrMalformed, n, have)
	}
	return decodePayload(t, b[MessageHeaderLen:], lim)
}

// growStep is what a payload may claim before the reader allocates its
// whole length: a larger payload is read into a growStep buffer first, and
// only once those bytes have arrived does the reader allocate the claimed
// length (already capped by Limits). A peer thus cannot make the receiver
// reserve a large buffer with a header alone.
const growStep = 4 << 20

// ReadMessage reads one message from r. At a clean end of stream before a
// header it returns io.EOF; a stream that ends inside a message gives
// io.ErrUnexpectedEOF. Lengths are checked against lim before anything is
// allocated.
func ReadMessage(r io.Reader, lim Limits) (Message, error) {
	var h [MessageHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	t, n, err := parseHeader(h[:], lim)
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	buf := make([]byte, min(n, growStep))
	k, err := io.ReadFull(r, buf)
	if err == nil && int64(len(buf)) < n {
		full := make([]byte, n)
		copy(full, buf)
		buf = full
		var k2 int
		k2, err = io.ReadFull(r, buf[k:])
		k += k2
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %v payload (%d of %d bytes): %w", t, k, n, err)
	}
	return decodePayload(t, buf, lim)
}

// decoder reads payload fields with bounds: every length is checked
// against what is left before anything is allocated.
type decoder struct {
	b   []byte
	lim Limits
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
	}
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("need %d bytes, have %d", n, len(d.b))
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// count reads a u32 count of items that take at least minItem bytes each.
func (d *decoder) count(what string, limit, minItem int) int {
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if n > uint32(limit) {
		d.err = fmt.Errorf("%w: %d %s > %d", ErrTooLarge, n, what, limit)
		return 0
	}
	if uint64(n)*uint64(minItem) > uint64(len(d.b)) {
		d.fail("%d %s need more than the %d bytes left", n, what, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) str(what string, max int) string {
	return string(d.bytes(d.count(what+" bytes", max, 1)))
}

// name reads a tensor name and checks it (checkName).
func (d *decoder) name(what string) string {
	name := d.str(what, ir.MaxName)
	if d.err == nil {
		d.err = checkName(name)
	}
	return name
}

// tensors reads a tensor list; frames alias the payload.
func (d *decoder) tensors() []NamedTensor {
	n := d.count("tensors", MaxTensorsPerMessage, 4+8)
	if n == 0 {
		return nil
	}
	ts := make([]NamedTensor, 0, n)
	for range n {
		name := d.name("tensor name")
		size := d.u64()
		if d.err != nil {
			return nil
		}
		if size > uint64(len(d.b)) {
			d.fail("tensor %q: frame of %d bytes, %d left", name, size, len(d.b))
			return nil
		}
		f, err := ir.DecodeFrame(d.bytes(int(size)), d.lim.MaxTensorBytes)
		if err != nil {
			d.err = fmt.Errorf("tensor %q: %w", name, mapFrameErr(err))
			return nil
		}
		if findTensor(ts, name) != nil {
			d.fail("tensor %q appears twice", name)
			return nil
		}
		ts = append(ts, NamedTensor{Name: name, Frame: *f})
	}
	return ts
}

// names reads a list of distinct tensor names.
func (d *decoder) names() []string {
	n := d.count("names", MaxTensorsPerMessage, 4+1)
	if n == 0 {
		return nil
	}
	ns := make([]string, 0, n)
	for range n {
		name := d.name("name")
		if d.err != nil {
			return nil
		}
		if slices.Contains(ns, name) {
			d.fail("name %q appears twice", name)
			return nil
		}
		ns = append(ns, name)
	}
	return ns
}

// mapFrameErr adds this package's sentinel to an ir decoding error.
func mapFrameErr(err error) error {
	if errors.Is(err, ir.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}
