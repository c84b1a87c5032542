package kernels

import (
	"testing"
	"unsafe"
)

// Copies share huge-page chunks: two 3 MiB copies take one mapping, one
// after the other, and neither overlaps the other; a copy larger than a
// chunk gets a mapping of its own and leaves the tail of the first to the
// next copy; small ones stay on the Go heap.
func TestHugeMemoryCarvesChunks(t *testing.T) {
	h := &hugeMemory{}
	defer func() { unmapHuge(h.mappings) }()
	a, b := h.alloc(3<<20+5), h.alloc(3<<20)
	if len(h.mappings) != 1 {
		t.Fatalf("two 3 MiB copies took %d mappings, want 1", len(h.mappings))
	}
	if len(a) != 3<<20+5 || cap(a) != len(a) || len(b) != 3<<20 {
		t.Fatalf("lengths %d (cap %d) and %d", len(a), cap(a), len(b))
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	if pb%copyAlign != 0 || pb < pa+uintptr(len(a)) {
		t.Fatalf("second copy at %#x, first at %#x..%#x", pb, pa, pa+uintptr(len(a)))
	}
	for i := range a {
		a[i] = 1
	}
	for i := range b {
		b[i] = 2
	}
	if a[len(a)-1] != 1 || b[0] != 2 {
		t.Fatal("copies overlap")
	}
	if c := h.alloc(hugeChunk + 1); len(c) != hugeChunk+1 || len(h.mappings) != 2 {
		t.Fatalf("a copy over a chunk: len %d, %d mappings", len(c), len(h.mappings))
	}
	if d := h.alloc(3 << 20); len(h.mappings) != 2 || uintptr(unsafe.Pointer(&d[0])) < pb+uintptr(len(b)) {
		t.Fatal("the copy after a large one did not go into the first chunk's tail")
	}
	if h.alloc(1000); len(h.mappings) != 2 {
		t.Fatal("a small copy was mapped")
	}
}
