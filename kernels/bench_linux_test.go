//go:build linux

package kernels

import (
	"syscall"
	"unsafe"
)

// benchAlloc returns n bytes for benchmark weights. Like stream.c's
// arrays, they are advised to live on transparent huge pages, so that the
// bandwidth ratio compares like with like; model loaders that map weights
// should do the same.
func benchAlloc(n int) []byte {
	const huge = 2 << 20
	size := (n + huge - 1) / huge * huge
	b, err := syscall.Mmap(-1, 0, size+huge, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	// Start on a 2 MiB boundary; the mapping stays alive for the process.
	off := 0
	if a := int(uintptr(unsafe.Pointer(&b[0]))) % huge; a != 0 {
		off = huge - a
	}
	b = b[off : off+size]
	_ = syscall.Madvise(b, 14) // MADV_HUGEPAGE
	return b[:n]
}
