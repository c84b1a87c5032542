package ir

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// GraphMagic opens every encoded graph; GraphVersion follows it.
const (
	GraphMagic   = "SPUG"
	GraphVersion = 1
)

// MaxGraphBytes caps the size of an encoded graph that Decode accepts.
const MaxGraphBytes = 64 << 20

// Encode returns the canonical binary form of g: the magic, a version byte,
// then every tensor and output with unsigned varints for integers and
// little-endian IEEE bits for floats. Equal graphs encode to equal bytes.
func (g *Graph) Encode() []byte {
	var w bytes.Buffer
	w.WriteString(GraphMagic)
	w.WriteByte(GraphVersion)
	putUvarint(&w, uint64(len(g.Tensors)))
	for i := range g.Tensors {
		t := &g.Tensors[i]
		w.Write([]byte{byte(t.Kind), byte(t.DType), byte(t.Op)})
		putString(&w, t.Name)
		putShape(&w, t.Shape)
		putUvarint(&w, uint64(len(t.Args)))
		for _, a := range t.Args {
			putUvarint(&w, uint64(a))
		}
		a := &t.Attrs
		var f [8]byte
		binary.LittleEndian.PutUint32(f[:4], math.Float32bits(a.Eps))
		binary.LittleEndian.PutUint32(f[4:], math.Float32bits(a.Theta))
		w.Write(f[:])
		for _, v := range []int{a.HeadSize, a.Heads, a.KVHeads, a.Axis, a.Start, a.End} {
			putUvarint(&w, uint64(v))
		}
		putShape(&w, a.Shape)
	}
	putUvarint(&w, uint64(len(g.Outputs)))
	for _, o := range g.Outputs {
		putString(&w, o.Name)
		putUvarint(&w, uint64(o.Tensor))
	}
	return w.Bytes()
}

// Hash is the SHA-256 of the canonical encoding: the graph's identity.
func (g *Graph) Hash() [32]byte { return sha256.Sum256(g.Encode()) }

func putUvarint(w *bytes.Buffer, v uint64) {
	var b [binary.MaxVarintLen64]byte
	w.Write(b[:binary.PutUvarint(b[:], v)])
}

func putString(w *bytes.Buffer, s string) {
	putUvarint(w, uint64(len(s)))
	w.WriteString(s)
}

func putShape(w *bytes.Buffer, s Shape) {
	putUvarint(w, uint64(len(s)))
	for _, d := range s {
		putUvarint(w, uint64(d))
	}
}

// reader decodes with bounds: every length is checked against what is left
// before anything is allocated.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)
	}
}

func (r *reader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	if v > max {
		r.fail("value %d above limit %d", v, max)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// count reads a length whose items take at least minItem bytes each.
func (r *reader) count(limit, minItem int) int {
	n := r.uvarint(uint64(limit))
	if r.err == nil && n*uint64(minItem) > uint64(len(r.b)) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) str() string { return string(r.bytes(r.count(MaxName, 1))) }

func (r *reader) shape() Shape {
	n := r.count(MaxRank, 1)
	if n == 0 {
		return nil
	}
	s := make(Shape, n)
	for i := range s {
		s[i] = int(r.uvarint(uint64(MaxElems)))
	}
	return s
}

// Decode parses the canonical encoding, rejects any non-canonical byte
// string (Encode of the result must reproduce b exactly) and verifies the graph.
func Decode(b []byte) (*Graph, error) {
	if len(b) > MaxGraphBytes {
		return nil, fmt.Errorf("decode graph: %w: %d bytes > %d", ErrTooLarge, len(b), MaxGraphBytes)
	}
	if len(b) < len(GraphMagic)+1 || string(b[:len(GraphMagic)]) != GraphMagic {
		return nil, fmt.Errorf("decode graph: %w: not a SplitUp graph (bad magic)", ErrFormat)
	}
	if b[len(GraphMagic)] != GraphVersion {
		return nil, fmt.Errorf("decode graph: %w: version %d, this build reads %d", ErrFormat, b[len(GraphMagic)], GraphVersion)
	}
	r := &reader{b: b[len(GraphMagic)+1:]}
	g := &Graph{}
	// Each tensor takes at least 3+1+1+1+8+6+1 = 21 bytes.
	g.Tensors = make([]Tensor, r.count(MaxTensors, 21))
	for i := range g.Tensors {
		g.Tensors[i] = r.tensor(len(g.Tensors))
	}
	g.Outputs = make([]Output, r.count(MaxTensors, 2))
	for i := range g.Outputs {
		g.Outputs[i] = Output{Name: r.str(), Tensor: int(r.uvarint(uint64(len(g.Tensors))))}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode graph: %w", r.err)
	}
	if !bytes.Equal(g.Encode(), b) {
		return nil, fmt.Errorf("decode graph: %w: not in canonical form", ErrFormat)
	}
	if err := g.Verify(); err != nil {
		return nil, fmt.Errorf("decode graph: %w", err)
	}
	return g, nil
}

func (r *reader) tensor(n int) Tensor {
	kdo := r.bytes(3)
	if kdo == nil {
		return Tensor{}
	}
	t := Tensor{Kind: Kind(kdo[0]), DType: DType(kdo[1]), Op: Op(kdo[2])}
	t.Name = r.str()
	t.Shape = r.shape()
	if na := r.count(8, 1); na > 0 {
		t.Args = make([]int, na)
		for j := range t.Args {
			t.Args[j] = int(r.uvarint(uint64(n)))
		}
	}
	if f := r.bytes(8); f != nil {
		t.Attrs.Eps = math.Float32frombits(binary.LittleEndian.Uint32(f[:4]))
		t.Attrs.Theta = math.Float32frombits(binary.LittleEndian.Uint32(f[4:]))
	}
	for _, p := range []*int{&t.Attrs.HeadSize, &t.Attrs.Heads, &t.Attrs.KVHeads, &t.Attrs.Axis, &t.Attrs.Start, &t.Attrs.End} {
		*p = int(r.uvarint(uint64(MaxElems)))
	}
	t.Attrs.Shape = r.shape()
	return t
}

// DecodeJSON parses the readable JSON form and verifies the graph.
func DecodeJSON(b []byte) (*Graph, error) {
	if len(b) > MaxGraphBytes {
		return nil, fmt.Errorf("decode graph json: %w: %d bytes", ErrTooLarge, len(b))
	}
	var g Graph
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("decode graph json: %w: %v", ErrFormat, err)
	}
	if err := g.Verify(); err != nil {
		return nil, fmt.Errorf("decode graph json: %w", err)
	}
	return &g, nil
}
