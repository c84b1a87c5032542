// Package shard is the content-addressed unit a node downloads to run a task:
// the task's subgraph and exactly the weights it declares, in one file whose
// SHA-256 is registered on chain.
//
// Layout (all integers unsigned varints): magic "SPUS", version byte, the
// graph's canonical ir encoding (length-prefixed), the weight count, then per
// weight in name order: name, dtype byte, rank and dims, data length; then
// the weights' data in the same order, raw little-endian in the layout of
// their dtype. Nothing in a shard is executable.
package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/splitup/splitup/ir"
)

// Magic opens every shard; Version follows it.
const (
	Magic   = "SPUS"
	Version = 1
)

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("malformed shard")

// Shard is a task's graph with its weights.
type Shard struct {
	// Graph is the task's subgraph.
	Graph *ir.Graph
	// Weights holds every weight Graph declares, by name.
	Weights map[string]*ir.Frame
}

// Weight implements exec.Weights.
func (s *Shard) Weight(name string) (*ir.Frame, bool) {
	w, ok := s.Weights[name]
	return w, ok
}

// Hash returns the SHA-256 of an encoded shard: its content address.
func Hash(b []byte) [32]byte { return sha256.Sum256(b) }

// Encode builds the shard of graph g, taking the weights it declares from w.
func Encode(g *ir.Graph, w interface {
	Weight(string) (*ir.Frame, bool)
}) ([]byte, error) {
	hdr, frames, err := header(g, w)
	if err != nil {
		return nil, err
	}
	size := len(hdr)
	for _, f := range frames {
		size += len(f.Data)
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	b.Write(hdr)
	for _, f := range frames {
		b.Write(f.Data)
	}
	return b.Bytes(), nil
}

// header encodes everything of g's shard before the weight data, and
// returns the weights in the order their data follows it.
func header(g *ir.Graph, w interface {
	Weight(string) (*ir.Frame, bool)
}) ([]byte, []*ir.Frame, error) {
	if err := g.Verify(); err != nil {
		return nil, nil, fmt.Errorf("encode shard: %w", err)
	}
	var names []string
	frames := map[string]*ir.Frame{}
	for _, i := range g.OfKind(ir.KindWeight) {
		t := &g.Tensors[i]
		f, ok := w.Weight(t.Name)
		if !ok {
			return nil, nil, fmt.Errorf("encode shard: weight %q is missing", t.Name)
		}
		if f.DType != t.DType || !f.Shape.Equal(t.Shape) || f.Check() != nil {
			return nil, nil, fmt.Errorf("encode shard: weight %q is %v %v, the graph wants %v %v", t.Name, f.DType, f.Shape, t.DType, t.Shape)
		}
		names = append(names, t.Name)
		frames[t.Name] = f
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString(Magic)
	b.WriteByte(Version)
	gb := g.Encode()
	putU(&b, uint64(len(gb)))
	b.Write(gb)
	putU(&b, uint64(len(names)))
	ordered := make([]*ir.Frame, len(names))
	for k, n := range names {
		f := frames[n]
		putU(&b, uint64(len(n)))
		b.WriteString(n)
		b.WriteByte(byte(f.DType))
		putU(&b, uint64(len(f.Shape)))
		for _, d := range f.Shape {
			putU(&b, uint64(d))
		}
		putU(&b, uint64(len(f.Data)))
		ordered[k] = f
	}
	return b.Bytes(), ordered, nil
}

func putU(b *bytes.Buffer, v uint64) {
	var t [binary.MaxVarintLen64]byte
	b.Write(t[:binary.PutUvarint(t[:], v)])
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) u(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.err = fmt.Errorf("%w: bad or oversize varint", ErrFormat)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: need %d bytes, %d left", ErrFormat, n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

// Decode parses and checks a shard. Weight data aliases b. It rejects any
// encoding that Encode would not produce.
func Decode(b []byte) (*Shard, error) {
	if len(b) < len(Magic)+1 || string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("decode shard: %w: bad magic", ErrFormat)
	}
	if b[len(Magic)] != Version {
		return nil, fmt.Errorf("decode shard: %w: version %d, this build reads %d", ErrFormat, b[len(Magic)], Version)
	}
	d := &dec{b: b[len(Magic)+1:]}
	gb := d.take(d.u(uint64(len(b))))
	if d.err != nil {
		return nil, fmt.Errorf("decode shard: %w", d.err)
	}
	g, err := ir.Decode(gb)
	if err != nil {
		return nil, fmt.Errorf("decode shard: %w", err)
	}
	n := d.u(uint64(len(d.b)))
	type entry struct {
		name string
		f    *ir.Frame
		size uint64
	}
	var es []entry
	for i := uint64(0); i < n && d.err == nil; i++ {
		e := entry{name: string(d.take(d.u(ir.MaxName)))}
		dt := d.take(1)
		rank := d.u(ir.MaxRank)
		var s ir.Shape
		for j := uint64(0); j < rank; j++ {
			s = append(s, int(d.u(uint64(ir.MaxElems))))
		}
		e.size = d.u(uint64(len(b)))
		if d.err == nil {
			e.f = &ir.Frame{DType: ir.DType(dt[0]), Shape: s}
		}
		es = append(es, e)
	}
	for i := range es {
		if d.err == nil {
			es[i].f.Data = d.take(es[i].size)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode shard: %w", d.err)
	}
	s := &Shard{Graph: g, Weights: make(map[string]*ir.Frame, len(es))}
	for _, e := range es {
		s.Weights[e.name] = e.f
	}
	// Canonical form: what Encode would write. Its header must be b's; the
	// weight data then follows in the header's order, as the frames (which
	// alias b in that order) hold it, so the data is not copied to compare.
	hdr, _, err := header(g, s)
	if err != nil {
		return nil, fmt.Errorf("decode shard: %w", err)
	}
	if len(hdr) > len(b) || !bytes.Equal(hdr, b[:len(hdr)]) || len(es) != len(s.Weights) {
		return nil, fmt.Errorf("decode shard: %w: not in canonical form (extra or unordered weights)", ErrFormat)
	}
	return s, nil
}
