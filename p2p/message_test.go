package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/splitup/splitup/ir"
)

var testLimits = Limits{MaxTensorBytes: 1 << 20, MaxMessageBytes: 4 << 20}

// testFrame returns an f32 frame of the given shape with data 0, 1, 2, ...
// (as bytes).
func testFrame(shape ...int) ir.Frame {
	n, _ := ir.F32.Bytes(ir.Shape(shape).Elems())
	f := ir.Frame{DType: ir.F32, Shape: shape, Data: make([]byte, n)}
	for i := range f.Data {
		f.Data[i] = byte(i * 7)
	}
	return f
}

func sampleMessages() []Message {
	q, _ := ir.Q8_0.Bytes(64)
	return []Message{
		&OpenSession{SessionID: "sess-1", ModelID: [32]byte{1, 2, 3}, TaskID: 7},
		&OpenSession{},
		&Step{SessionID: "s", Index: 3, Positions: []int32{5}, Tensors: []NamedTensor{{Name: "tokens", Frame: ir.Frame{DType: ir.I32, Shape: ir.Shape{1}, Data: []byte{9, 0, 0, 0}}}}},
		&Step{SessionID: "s", Index: 0, Positions: []int32{0, 1, 2, -1}, Tensors: []NamedTensor{
			{Name: "x", Frame: testFrame(4, 300)},
			{Name: "q", Frame: ir.Frame{DType: ir.Q8_0, Shape: ir.Shape{2, 32}, Data: make([]byte, q)}},
			{Name: "scalar", Frame: testFrame()},
			{Name: "empty", Frame: testFrame(0, 8)},
		}},
		&Step{},
		&Step{SessionID: "g", Index: 1, Positions: []int32{4}, Tensors: []NamedTensor{{Name: "x", Frame: testFrame(1, 8)}}, Argmax: []string{"logits", "aux"}},
		&StepResult{SessionID: "s", Index: 9, Tensors: []NamedTensor{{Name: "logits", Frame: testFrame(1, 512)}}},
		&StepResult{},
		&Error{Code: CodeUnknownSession, Text: "no session \"x\""},
		&Error{},
		&Close{SessionID: "sess-1"},
		&Close{},
		&Route{SessionID: "sess-1", On: true, Next: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample", NextTask: 2, Prev: "12D3KooWPrev"},
		&Route{SessionID: "sess-1"},
		&Route{},
		&Attach{SessionID: "sess-1", ModelID: [32]byte{9, 8}, TaskID: 3, Client: "12D3KooWClient"},
		&Attach{},
		&Fetch{SessionID: "sess-1", Name: "blk.3.attn_res", From: 12, Count: 40},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("encode %#v: %v", m, err)
		}
		got, err := DecodeMessage(b, testLimits)
		if err != nil {
			t.Fatalf("decode %v: %v", m.Type(), err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(m)) {
			t.Errorf("round trip of %v changed the message", m.Type())
		}
		var w bytes.Buffer
		if err := WriteMessage(&w, m); err != nil || !bytes.Equal(w.Bytes(), b) {
			t.Errorf("WriteMessage(%v) differs from EncodeMessage (err %v)", m.Type(), err)
		}
		got2, err := ReadMessage(bytes.NewReader(b), testLimits)
		if err != nil || !reflect.DeepEqual(got2, got) {
			t.Errorf("ReadMessage(%v) differs from DecodeMessage (err %v)", m.Type(), err)
		}
	}
}

// normalise makes empty and nil slices compare equal.
func normalise(m Message) Message {
	fix := func(ts []NamedTensor) []NamedTensor {
		if len(ts) == 0 {
			return nil
		}
		out := append([]NamedTensor(nil), ts...)
		for i := range out {
			if len(out[i].Frame.Data) == 0 {
				out[i].Frame.Data = nil
			}
			if len(out[i].Frame.Shape) == 0 {
				out[i].Frame.Shape = nil
			}
		}
		return out
	}
	switch m := m.(type) {
	case *Step:
		c := *m
		if len(c.Positions) == 0 {
			c.Positions = nil
		}
		c.Tensors = fix(c.Tensors)
		return &c
	case *StepResult:
		c := *m
		c.Tensors = fix(c.Tensors)
		return &c
	}
	return m
}

func TestFrameHeaderMatchesIR(t *testing.T) {
	for _, shape := range []ir.Shape{{}, {0}, {1}, {127}, {128, 3}, {1 << 20, 2}, {1, 1, 1, 1, 1, 1, 1, 1}} {
		f := testFrame(shape...)
		enc, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		h := frameHeader(&f)
		if !bytes.Equal(h, enc[:len(h)]) || len(h)+len(f.Data) != len(enc) || len(h) != ir.FrameHeaderLen(shape) {
			t.Errorf("shape %v: header %x, ir encoding starts %x", shape, h, enc[:min(len(enc), 32)])
		}
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	good, err := EncodeMessage(&Step{SessionID: "s", Tensors: []NamedTensor{{Name: "x", Frame: testFrame(2, 4)}}})
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	big := mut(func(b []byte) []byte {
		binary.LittleEndian.PutUint64(b[6:], 10_000_000_000)
		return b
	})
	dupArgmax, err := EncodeMessage(&Step{Argmax: []string{"ab", "ac"}})
	if err != nil {
		t.Fatal(err)
	}
	dupArgmax[len(dupArgmax)-1] = 'b' // "ac" becomes "ab"
	route, err := EncodeMessage(&Route{SessionID: "s", On: true})
	if err != nil {
		t.Fatal(err)
	}
	route[MessageHeaderLen+4+1] = 2 // the flag after the session id
	fetch, err := EncodeMessage(&Fetch{SessionID: "s", Name: "x", Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(fetch[len(fetch)-4:], MaxPositions+1)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
		text string
	}{
		{"short", good[:5], ErrMalformed, "shorter than a header"},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMalformed, "bad magic"},
		{"version", mut(func(b []byte) []byte { b[4] = 1; return b }), ErrMalformed, "version 1"},
		{"unknown type", mut(func(b []byte) []byte { b[5] = 99; return b }), ErrMalformed, "unknown message type 99"},
		{"type zero", mut(func(b []byte) []byte { b[5] = 0; return b }), ErrMalformed, "unknown message type 0"},
		{"10 GB claim", big, ErrTooLarge, "claims 10000000000 payload bytes"},
		{"truncated", good[:len(good)-1], ErrMalformed, "header says"},
		{"argmax twice", dupArgmax, ErrMalformed, `name "ab" appears twice`},
		{"route flag 2", route, ErrMalformed, "route flag 2"},
		{"fetch too many rows", fetch, ErrTooLarge, "fetch of 1048577 rows"},
		{"trailing", mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[6:], uint64(len(b)-MessageHeaderLen+1))
			return append(b, 0)
		}), ErrMalformed, "trailing"},
	} {
		_, err := DecodeMessage(tc.b, testLimits)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: err %v, want %v containing %q", tc.name, err, tc.want, tc.text)
		}
	}
	// A tensor above MaxTensorBytes is refused although the message fits.
	lim := Limits{MaxTensorBytes: 31, MaxMessageBytes: 1 << 20}
	if _, err := DecodeMessage(good, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("tensor of 32 bytes with MaxTensorBytes 31: err %v, want ErrTooLarge", err)
	}
	// Small messages are capped whatever the limits say.
	small := make([]byte, MessageHeaderLen)
	copy(small, MessageMagic)
	small[4], small[5] = MessageVersion, byte(TypeError)
	binary.LittleEndian.PutUint64(small[6:], MaxSmallPayload+1)
	if _, err := DecodeMessage(small, Limits{MaxMessageBytes: 1 << 30}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize Error message: err %v, want ErrTooLarge", err)
	}
}

func TestEncodeMessageErrors(t *testing.T) {
	dup := []NamedTensor{{Name: "x", Frame: testFrame(1)}, {Name: "x", Frame: testFrame(1)}}
	bad := ir.Frame{DType: ir.F32, Shape: ir.Shape{3}, Data: make([]byte, 8)}
	for _, m := range []Message{
		nil,
		&Step{Tensors: dup},
		&Step{Argmax: []string{"logits", "logits"}},
		&Step{Argmax: []string{""}},
		&Step{Tensors: []NamedTensor{{Name: "", Frame: testFrame(1)}}},
		&Step{Tensors: []NamedTensor{{Name: "x", Frame: bad}}},
		&StepResult{Tensors: []NamedTensor{{Name: strings.Repeat("n", ir.MaxName+1), Frame: testFrame(1)}}},
		&OpenSession{SessionID: strings.Repeat("s", MaxSessionID+1)},
		&Error{Text: strings.Repeat("e", MaxErrorText+1)},
		&Route{Next: strings.Repeat("a", MaxAddr+1)},
		&Attach{SessionID: strings.Repeat("s", MaxSessionID+1)},
		&Attach{SessionID: "s", Client: strings.Repeat("c", MaxAddr+1)},
		&Fetch{SessionID: "s"},
		&Fetch{SessionID: "s", Name: "x", Count: MaxPositions + 1},
	} {
		if b, err := EncodeMessage(m); err == nil {
			t.Errorf("EncodeMessage(%#v) = %d bytes, want an error", m, len(b))
		}
	}
}

// TestReadMessageAllocatesAsBytesArrive checks that a header claiming a
// large payload does not make the reader allocate it up front.
func TestReadMessageAllocatesAsBytesArrive(t *testing.T) {
	h := make([]byte, MessageHeaderLen)
	copy(h, MessageMagic)
	h[4], h[5] = MessageVersion, byte(TypeStep)
	binary.LittleEndian.PutUint64(h[6:], 1<<30)
	lim := Limits{MaxTensorBytes: 1 << 30, MaxMessageBytes: 1 << 30}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadMessage(io.MultiReader(bytes.NewReader(h), bytes.NewReader(make([]byte, 100))), lim)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, want io.ErrUnexpectedEOF", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 2*growStep {
		t.Errorf("allocated %d bytes for a 1 GiB claim with 100 bytes sent", d)
	}
	if _, err := ReadMessage(bytes.NewReader(nil), lim); err != io.EOF {
		t.Errorf("empty stream: err %v, want io.EOF", err)
	}
}

func TestReadMessageGrowsToLargePayload(t *testing.T) {
	m := &Step{SessionID: "big", Tensors: []NamedTensor{{Name: "x", Frame: testFrame(3*growStep/4/4 + 5)}}}
	b, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	lim := Limits{MaxTensorBytes: 64 << 20, MaxMessageBytes: 64 << 20}
	got, err := ReadMessage(io.MultiReader(bytes.NewReader(b[:100]), bytes.NewReader(b[100:])), lim)
	if err != nil {
		t.Fatal(err)
	}
	if f := got.(*Step).Tensor("x"); f == nil || !bytes.Equal(f.Data, m.Tensors[0].Frame.Data) {
		t.Error("tensor data differs after reading")
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := EncodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(MessageMagic + "\x01\x02\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b, testLimits)
		m2, err2 := ReadMessage(bytes.NewReader(b), testLimits)
		if err != nil {
			if err2 == nil && len(b) >= MessageHeaderLen {
				if enc, _ := EncodeMessage(m2); len(enc) == len(b) {
					t.Fatalf("ReadMessage accepted what DecodeMessage refused (%v)", err)
				}
			}
			return
		}
		if err2 != nil {
			t.Fatalf("ReadMessage refused what DecodeMessage accepted: %v", err2)
		}
		enc, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("re-encode %v: %v", m.Type(), err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("decode→encode changed the bytes:\n in %x\nout %x", b, enc)
		}
	})
}

func FuzzDecodeBlobRequest(f *testing.F) {
	f.Add((&blobRequest{Hash: Hash{1}, Offset: 12345}).encode())
	f.Add([]byte("SPBQ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeBlobRequest(b)
		if err != nil {
			return
		}
		if enc := r.encode(); !bytes.Equal(enc, b) {
			t.Fatalf("decode→encode changed the bytes:\n in %x\nout %x", b, enc)
		}
	})
}

func FuzzReadBlobResponse(f *testing.F) {
	f.Add((&blobResponse{Status: blobOK, Size: 1 << 40}).encode())
	f.Add((&blobResponse{Status: blobNotFound, Text: "no such blob"}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := readBlobResponse(bytes.NewReader(b))
		if err != nil {
			return
		}
		enc := r.encode()
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("decode→encode changed the bytes:\n in %x\nout %x", b, enc)
		}
	})
}
