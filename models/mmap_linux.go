package models

import (
	"os"
	"syscall"
)

// mapFile maps a file read-only. Weights are then read straight from the
// page cache, which keeps large files in large folios: decoding streams
// them faster than from 4 KiB heap pages, and nothing is copied.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = syscall.Madvise(b, syscall.MADV_WILLNEED)
	return b, nil
}

// unmapFile releases a mapping made by mapFile.
func unmapFile(b []byte) error { return syscall.Munmap(b) }
