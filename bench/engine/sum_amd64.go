package main

import "golang.org/x/sys/cpu"

// sum128 adds up p (a multiple of 128 bytes long) as 64-bit words.
func sum128(p []byte) uint64 {
	if cpu.X86.HasAVX2 && len(p) >= 128 {
		return sumAVX2(&p[0], len(p)/128)
	}
	return sumGo(p)
}

// sumAVX2 adds up n blocks of 128 bytes from p with four 256-bit integer
// accumulators, one load folded into each add, as stream.c's read kernel
// compiles.
//
//go:noescape
func sumAVX2(p *byte, n int) uint64
