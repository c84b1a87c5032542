package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead checks that no input panics or allocates without bound, and that
// whatever parses re-encodes stably: encode → read → encode gives the same
// bytes.
func FuzzRead(f *testing.F) {
	f.Add(sample(f, 0))
	f.Add(sample(f, 64))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Add(v1(nil))
	f.Add([]byte("GGUF\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00k\x09\x00\x00\x00\x09\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	// The header part of the reference v1 file, where present.
	p := filepath.Join("..", "..", "..", "shared", "models", "tinyllamas-stories-260k-f32.gguf")
	if b, err := os.ReadFile(p); err == nil {
		f.Add(b[:11456])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		var one bytes.Buffer
		if err := Encode(&one, file); err != nil {
			t.Fatalf("encode of a parsed file failed: %v", err)
		}
		again, err := Read(bytes.NewReader(one.Bytes()), int64(one.Len()))
		if err != nil {
			t.Fatalf("re-read of an encoded file failed: %v", err)
		}
		var two bytes.Buffer
		if err := Encode(&two, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.Bytes(), two.Bytes()) {
			t.Fatal("encode → read → encode is not stable")
		}
	})
}
