package main

import (
	"math"
)

// vconst emits a 32-byte read-only vector of 8 copies of bits.
func (g *gen) vconst(name string, bits uint32) {
	for i := 0; i < 8; i++ {
		g.raw(f("DATA %s<>+%d(SB)/4, $0x%08x", name, 4*i, bits))
	}
	g.raw(f("GLOBL %s<>(SB), RODATA|NOPTR, $32", name))
}

func f32bits(v float32) uint32 { return math.Float32bits(v) }

// expConsts are the constants of exp32 (mathf.go), rounded exactly as the
// Go compiler rounds them there.
func (g *gen) expConsts() {
	g.vconst("log2e", f32bits(1.44269504088896340736))
	g.vconst("ln2hi", f32bits(0.693145751953125))
	g.vconst("ln2lo", f32bits(1.428606765330187e-06))
	g.vconst("absmask", 0x7fffffff)
	g.vconst("signmask", 0x80000000)
	g.vconst("half", f32bits(0.5))
	g.vconst("one", f32bits(1))
	g.vconst("minexp", f32bits(-126))
	g.vconst("maxexp", f32bits(127))
	g.vconst("bias", 127)
	coef := []float64{1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5}
	for i, c := range coef {
		g.vconst(f("expc%d", 7-i), f32bits(float32(c)))
	}
	g.raw("")
}

// expBody computes Y7 = exp32(Y0) for 8 lanes through exp32's main path,
// jumping to bail, before any store, when a lane does not take it (NaN, or
// 2^n outside the normal range). It uses Y1..Y7.
func expBody(bail string) []string {
	s := []string{
		"VMULPS log2e<>(SB), Y0, Y1",
		// n = roundHalfAway(t), as a float
		"VROUNDPS $3, Y1, Y2",
		"VSUBPS Y2, Y1, Y3",
		"VANDPS absmask<>(SB), Y3, Y3",
		"VCMPPS $13, half<>(SB), Y3, Y3",
		"VANDPS signmask<>(SB), Y1, Y4",
		"VORPS one<>(SB), Y4, Y4",
		"VANDPS Y3, Y4, Y4",
		"VADDPS Y4, Y2, Y2",
		// every lane must have -126 <= n <= 127 (false for NaN)
		"VCMPPS $13, minexp<>(SB), Y2, Y3",
		"VCMPPS $2, maxexp<>(SB), Y2, Y4",
		"VANDPS Y4, Y3, Y3",
		"VMOVMSKPS Y3, BX",
		"CMPL BX, $0xff",
		"JNE " + bail,
		// r = (x - n*ln2hi) - n*ln2lo
		"VMULPS ln2hi<>(SB), Y2, Y4",
		"VSUBPS Y4, Y0, Y5",
		"VMULPS ln2lo<>(SB), Y2, Y4",
		"VSUBPS Y4, Y5, Y5",
		// q = ((((c7*r + c6)*r + c5)*r + c4)*r + c3)*r + c2
		"VMOVUPS expc7<>(SB), Y6",
	}
	for c := 6; c >= 2; c-- {
		s = append(s, "VMULPS Y5, Y6, Y6", f("VADDPS expc%d<>(SB), Y6, Y6", c))
	}
	return append(s,
		// p = 1 + (r + (r*r)*q)
		"VMULPS Y5, Y5, Y7",
		"VMULPS Y6, Y7, Y7",
		"VADDPS Y7, Y5, Y7",
		"VADDPS one<>(SB), Y7, Y7",
		// e = p * 2^n
		"VCVTTPS2DQ Y2, Y3",
		"VPADDD bias<>(SB), Y3, Y3",
		"VPSLLD $23, Y3, Y3",
		"VMULPS Y3, Y7, Y7",
	)
}

// expSub writes the kernel that computes e = exp32(x - m) for vectors of 8,
// storing e and adding it to 8 lane sums.
func (g *gen) expSub() {
	g.raw(`// func expSubAVX(dst, src *float32, n int, m float32, lanes *[8]float32) int
//
// For i < n (a multiple of 8) it sets dst[i] = exp32(src[i]-m) and adds it
// to lanes[i%8], stopping before the first vector holding a lane that
// exp32 does not take through its main path (NaN, or 2^n outside the normal
// range); it returns how many elements it did.
TEXT ·expSubAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y8
	MOVQ lanes+32(FP), DX
	VMOVUPS (DX), Y9
	XORQ AX, AX`)
	g.expLoop([]string{"VMOVUPS (SI)(AX*4), Y0", "VSUBPS Y8, Y0, Y0"},
		[]string{"VMOVUPS Y7, (DI)(AX*4)", "VADDPS Y7, Y9, Y9"},
		[]string{"VMOVUPS Y9, (DX)", "MOVQ AX, ret+40(FP)"})
}

// swiglu writes the SwiGLU kernel: out = float32(silu32(g) * u) for vectors
// of 8, silu32(g) = g / float32(1 + exp32(-g)).
func (g *gen) swiglu() {
	g.raw(`// func swigluAVX(out, gate, up *float32, n int) int
//
// For i < n (a multiple of 8) it sets out[i] = float32(silu32(gate[i]) * up[i]),
// stopping before the first vector holding a lane whose exp32(-gate[i]) does not
// take exp32's main path; it returns how many elements it did.
TEXT ·swigluAVX(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	XORQ AX, AX`)
	g.expLoop([]string{"VMOVUPS (SI)(AX*4), Y8", "VXORPS signmask<>(SB), Y8, Y0"},
		[]string{"VADDPS one<>(SB), Y7, Y7", "VDIVPS Y7, Y8, Y7", "VMULPS (DX)(AX*4), Y7, Y7", "VMOVUPS Y7, (DI)(AX*4)"},
		[]string{"MOVQ AX, ret+32(FP)"})
}

// expLoop writes the loop of the exp32 kernels over the vectors of 8 at
// element AX < CX: load sets Y0 to exp32's argument, expBody computes Y7,
// use consumes it; after the loop, or at the first vector expBody refuses,
// epilogue stores the results (AX: the elements done) and the kernel returns.
func (g *gen) expLoop(load, use, epilogue []string) {
	g.label("loop")
	g.ins("CMPQ AX, CX", "JGE done")
	g.ins(load...)
	g.ins(expBody("done")...)
	g.ins(use...)
	g.ins("ADDQ $8, AX", "JMP loop")
	g.label("done")
	g.ins(epilogue...)
	g.ins("VZEROUPPER", "RET")
	g.raw("")
}

// wsum writes the kernels of attention's weighted sum: for ncols of 8, 32
// or 64 columns (groups of 8), o[c] = sum over j < n, in increasing j from
// +0, of float32(a[j]*v_j[c]), the value rows stride bytes apart. The sums
// of group i live in Yi; the weight is broadcast into the register after
// them (at least Y4), and the products cycle through the rest.
func (g *gen) wsum(groups int) {
	name := f("wsum%dAVX", 8*groups)
	bc := max(4, groups)
	temps := 15 - bc
	g.raw(f("// func %s(o, a, v *float32, stride, n int)", name))
	g.raw(f("TEXT ·%s(SB), NOSPLIT, $0-40", name))
	g.ins("MOVQ o+0(FP), DI", "MOVQ a+8(FP), SI", "MOVQ v+16(FP), DX", "MOVQ stride+24(FP), R8", "MOVQ n+32(FP), CX")
	g.ins(zero(groups)...)
	g.ins("TESTQ CX, CX", "JZ store")
	g.label("loop")
	g.ins(f("VBROADCASTSS (SI), Y%d", bc))
	for i := 0; i < groups; i++ {
		t := bc + 1 + i%temps
		g.ins(f("VMULPS %d(DX), Y%d, Y%d", 32*i, bc, t), f("VADDPS Y%d, Y%d, Y%d", t, i, i))
	}
	g.ins("ADDQ $4, SI", "ADDQ R8, DX", "DECQ CX", "JNZ loop")
	g.label("store")
	var st []string
	for i := 0; i < groups; i++ {
		st = append(st, f("VMOVUPS Y%d, %d(DI)", i, 32*i))
	}
	g.ins(st...)
	g.ins("VZEROUPPER", "RET")
	g.raw("")
}
