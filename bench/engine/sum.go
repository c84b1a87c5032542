package main

import "encoding/binary"

// sumGo is sum128 without SIMD, with eight independent sums.
func sumGo(p []byte) uint64 {
	var s [8]uint64
	for i := 0; i+64 <= len(p); i += 64 {
		for j := range s {
			s[j] += binary.LittleEndian.Uint64(p[i+8*j:])
		}
	}
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
}
