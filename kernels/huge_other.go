//go:build !linux

package kernels

// mapHuge returns n bytes from the Go heap: huge pages are only requested
// on Linux.
func mapHuge(n int) (b, mapping []byte) { return make([]byte, n), nil }

func unmapHuge(ms [][]byte) {}
