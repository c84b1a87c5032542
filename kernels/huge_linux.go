//go:build linux

package kernels

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on x86-64.
const hugePage = 2 << 20

// mapHuge returns n bytes of anonymous memory starting on a huge-page
// boundary and advised to live on transparent huge pages, and the whole
// mapping for unmapHuge. Weights streamed once per token are read faster
// from huge pages (fewer TLB misses on every 4 KiB step). Small sizes, and
// failures, fall back to the Go heap (mapping nil).
func mapHuge(n int) (b, mapping []byte) {
	if n < hugePage {
		return make([]byte, n), nil
	}
	size := (n + hugePage - 1) / hugePage * hugePage
	m, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), nil
	}
	off := 0
	if a := int(uintptr(unsafe.Pointer(&m[0]))) % hugePage; a != 0 {
		off = hugePage - a
	}
	b = m[off : off+size]
	_ = syscall.Madvise(b, 14) // MADV_HUGEPAGE; without it the pages stay 4 KiB
	return b[:n], m
}

// unmapHuge releases mappings returned by mapHuge.
func unmapHuge(ms [][]byte) {
	for _, m := range ms {
		_ = syscall.Munmap(m)
	}
}
