// Command asmgen writes simd_amd64.s, the AVX2 kernels of package kernels.
//
// The kernels share one structure (4 weight rows per pass, one or two
// activation rows, 8-lane accumulators combined by the canonical tree) and
// differ in how a weight vector is loaded, so they are generated rather than
// written out by hand. Run it through go generate in the kernels directory.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
)

// prefetch is how far ahead, in bytes, the row kernels prefetch each row.
const prefetch = 1024

// wr are the registers holding the 4 weight-row pointers of a quad.
var wr = [4]string{"R8", "R11", "R12", "R13"}

type gen struct{ b strings.Builder }

func (g *gen) raw(s string) { g.b.WriteString(s + "\n") }

func (g *gen) label(l string) { g.raw(l + ":") }

func (g *gen) ins(lines ...string) {
	for _, l := range lines {
		g.raw("\t" + l)
	}
}

func f(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// hsum adds the 8 lanes of Y<y> in the canonical order
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) and stores the float32 to dst.
func hsum(y int, dst, tmp string) []string {
	x := f("X%d", y)
	return []string{
		f("VEXTRACTF128 $1, Y%d, %s", y, tmp), f("VADDPS %s, %s, %s", tmp, x, x),
		f("VPERMILPS $0x0e, %s, %s", x, tmp), f("VADDPS %s, %s, %s", tmp, x, x),
		f("VMOVSHDUP %s, %s", x, tmp), f("VADDSS %s, %s, %s", tmp, x, x), f("VMOVSS %s, %s", x, dst),
	}
}

// rowPtrs sets R11..R13 to rows 1..3 of the quad at R8 (stride R9).
func rowPtrs() []string {
	return []string{"LEAQ (R8)(R9*1), R11", "LEAQ (R8)(R9*2), R12", "LEAQ (R11)(R9*2), R13"}
}

// prefetches is the prefetch scheme of the float kernels: each of the 4
// row streams is prefetched 1024 bytes ahead.
func prefetches() []string {
	var s []string
	for _, w := range wr {
		s = append(s, f("PREFETCHT0 %d(%s)(AX*1)", prefetch, w))
	}
	return s
}

// The quantised kernels, which spend more time per byte, prefetch the next
// quad instead: while a quad of rows is processed, R9 walks the next quad's
// memory (its 4 rows are contiguous), so every row starts warm. R9 holds
// the stride outside the loop.

// nextQuadStart points R9 at the quad after the one at R8 (R13 is its last
// row).
func nextQuadStart() []string { return []string{"LEAQ (R13)(R9*1), R9"} }

// nextQuad prefetches the 4*step bytes of the next quad that match one
// step of this one, and advances R9 over them.
func nextQuad(step int) []string {
	var s []string
	for off := 0; off < 4*step; off += 64 {
		s = append(s, f("PREFETCHT0 %d(R9)", off))
	}
	return append(s, f("ADDQ $%d, R9", 4*step))
}

// endQuads ends a one-token Rows kernel: at label sum the 4 row sums go
// to DI on (tmp is scratch), then come extra (such as restoreStride), DI
// and R8 move on to the next quad (R8 by advance), the quad loop closes and
// the kernel returns.
func (g *gen) endQuads(tmp, advance string, extra ...string) {
	g.label("sum")
	for r := 0; r < 4; r++ {
		g.ins(hsum(r, f("%d(DI)", 4*r), tmp)...)
	}
	g.ins(extra...)
	g.ins("ADDQ $16, DI", advance, "DECQ R10", "JNZ quad")
	g.label("end")
	g.ins("VZEROUPPER", "RET")
	g.raw("")
}

// endQuads2 ends a quantised two-token Rows kernel, whose output pointers
// out0 and out1 are arguments at frame offsets off and off+8: at label sum
// the 2×4 row sums go to them, then come extra, both pointers and R8 (by
// advance) move on to the next quad, the quad loop closes and the kernel
// returns.
func (g *gen) endQuads2(off int, advance string, extra ...string) {
	g.label("sum")
	g.ins(f("MOVQ out0+%d(FP), CX", off), f("MOVQ out1+%d(FP), DX", off+8))
	for r := 0; r < 4; r++ {
		g.ins(hsum(r, f("%d(CX)", 4*r), "X14")...)
		g.ins(hsum(r+4, f("%d(DX)", 4*r), "X14")...)
	}
	g.ins(extra...)
	g.ins("ADDQ $16, CX", "ADDQ $16, DX", f("MOVQ CX, out0+%d(FP)", off), f("MOVQ DX, out1+%d(FP)", off+8),
		advance, "DECQ R10", "JNZ quad")
	g.label("end")
	g.ins("VZEROUPPER", "RET")
	g.raw("")
}

// restoreStride reloads the stride into R9 at the end of a quad.
func restoreStride() []string { return []string{"MOVQ stride+8(FP), R9"} }

func zero(n int) []string {
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, f("VXORPS Y%d, Y%d, Y%d", i, i, i))
	}
	return s
}

// floatKind describes an unquantised weight type: how 8 weights at an
// address become 8 float32 in a register, the bytes they take, and the
// scale from that byte offset to x's.
// With direct, the weights need no conversion, so a multiply takes them from
// memory itself (one instruction per vector instead of a load and a multiply).
type floatKind struct {
	name   string
	load   func(addr, dst string) []string
	step   int
	xMult  int
	direct bool
}

var floatKinds = []floatKind{
	{"f32", func(a, d string) []string { return []string{f("VMOVUPS %s, %s", a, d)} }, 32, 1, true},
	{"f16", func(a, d string) []string { return []string{f("VCVTPH2PS %s, %s", a, d)} }, 16, 2, false},
	{"bf16", func(a, d string) []string {
		return []string{f("VPMOVZXWD %s, %s", a, d), f("VPSLLD $16, %s, %s", d, d)}
	}, 16, 2, false},
}

// addrFn returns the address of byte disp of row r's current unit (8
// elements or one block) of a quad: AX counts the units' bytes of one row.
type addrFn func(r, disp int) string

// rowMajor addresses the 4 rows through their pointers R8, R11..R13.
func rowMajor(r, disp int) string {
	if disp == 0 {
		return f("(%s)(AX*1)", wr[r])
	}
	return f("%d(%s)(AX*1)", disp, wr[r])
}

// packedAt addresses the packed layout (see kernels.Pack): the 4 rows'
// units of step bytes lie side by side from R8, so the quad is one stream.
func packedAt(step int) addrFn {
	return func(r, disp int) string {
		if o := r*step + disp; o != 0 {
			return f("%d(R8)(AX*4)", o)
		}
		return "(R8)(AX*4)"
	}
}

// floatBody is one step of 4 rows × 1 token: x in Y4, accumulators Y0..Y3.
func floatBody(k floatKind, at addrFn) []string {
	body := []string{f("VMOVUPS (SI)(AX*%d), Y4", k.xMult)}
	for r := range wr {
		if k.direct {
			body = append(body, f("VMULPS %s, Y4, Y5", at(r, 0)), f("VADDPS Y5, Y%d, Y%d", r, r))
			continue
		}
		body = append(body, k.load(at(r, 0), "Y5")...)
		body = append(body, "VMULPS Y5, Y4, Y5", f("VADDPS Y5, Y%d, Y%d", r, r))
	}
	return body
}

// floatBody2 is one step of 4 rows × 2 tokens: x in Y8, Y9; accumulators
// Y0..Y3 and Y4..Y7.
func floatBody2(k floatKind, at addrFn) []string {
	body := []string{f("VMOVUPS (SI)(AX*%d), Y8", k.xMult), f("VMOVUPS (DX)(AX*%d), Y9", k.xMult)}
	for r := range wr {
		body = append(body, k.load(at(r, 0), "Y10")...)
		body = append(body, "VMULPS Y10, Y8, Y11", f("VADDPS Y11, Y%d, Y%d", r, r),
			"VMULPS Y10, Y9, Y12", f("VADDPS Y12, Y%d, Y%d", r+4, r+4))
	}
	return body
}

func (g *gen) floatKernels(k floatKind) {
	body := floatBody(k, rowMajor)
	next := []string{f("ADDQ $%d, AX", k.step), "DECQ CX", "JNZ loop"}

	g.raw(f("// func %sDot4(p *[4]unsafe.Pointer, x *float32, n8 int, acc *[4][8]float32)", k.name))
	g.raw(f("TEXT ·%sDot4(SB), NOSPLIT, $0-32", k.name))
	g.ins("MOVQ p+0(FP), BX", "MOVQ 0(BX), R8", "MOVQ 8(BX), R11", "MOVQ 16(BX), R12", "MOVQ 24(BX), R13",
		"MOVQ x+8(FP), SI", "MOVQ n8+16(FP), CX", "MOVQ acc+24(FP), DI")
	g.ins(zero(4)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ done")
	g.label("loop")
	g.ins(body...)
	g.ins(next...)
	g.label("done")
	for r := 0; r < 4; r++ {
		g.ins(f("VMOVUPS Y%d, %d(DI)", r, 32*r))
	}
	g.ins("VZEROUPPER", "RET")
	g.raw("")

	// The Rows kernel in two prefetch flavours: per row stream (Rows) and
	// next quad (RowsNQ, better for short rows, whose starts the per-row
	// scheme leaves cold).
	for _, nq := range []bool{false, true} {
		name := k.name + "Rows"
		if nq {
			name += "NQ"
		}
		g.raw(f("// func %s(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)", name))
		g.raw(f("TEXT ·%s(SB), NOSPLIT, $0-48", name))
		g.ins("MOVQ w+0(FP), R8", "MOVQ stride+8(FP), R9", "MOVQ x+16(FP), SI", "MOVQ nq+32(FP), R10",
			"MOVQ out+40(FP), DI", "TESTQ R10, R10", "JZ end")
		g.label("quad")
		g.ins(rowPtrs()...)
		if nq {
			g.ins(nextQuadStart()...)
		}
		g.ins("MOVQ n8+24(FP), CX")
		g.ins(zero(4)...)
		g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
		g.label("loop")
		g.ins(body...)
		if nq {
			g.ins(nextQuad(k.step)...)
		} else {
			g.ins(prefetches()...)
		}
		g.ins(next...)
		var extra []string
		if nq {
			extra = restoreStride()
		}
		g.endQuads("X15", "LEAQ (R8)(R9*4), R8", extra...)
	}

	// The Rows kernel prefetching each row stream a fixed distance ahead
	// that runs on into the next quad near the end of the rows (RowsW), so
	// no row of the next quad starts cold and nothing is fetched far ahead.
	ahead := prefetch / k.step
	name := k.name + "RowsW"
	g.raw(f("// func %s(w unsafe.Pointer, stride int, x *float32, n8, nq int, out *float32)", name))
	g.raw(f("TEXT ·%s(SB), NOSPLIT, $0-48", name))
	g.ins("MOVQ w+0(FP), R8", "MOVQ stride+8(FP), R9", "MOVQ x+16(FP), SI", "MOVQ nq+32(FP), R10",
		"MOVQ out+40(FP), DI", "TESTQ R10, R10", "JZ end", "LEAQ (R9)(R9*2), BX")
	g.label("quad")
	g.ins(rowPtrs()...)
	g.ins(f("LEAQ %d(R8), DX", prefetch))
	g.ins(zero(4)...)
	g.ins("XORQ AX, AX", "MOVQ n8+24(FP), CX", f("SUBQ $%d, CX", ahead), "JLE near")
	wbody := func(l string) {
		g.label(l)
		g.ins(body...)
		g.ins("PREFETCHT0 (DX)", "PREFETCHT0 (DX)(R9*1)", "PREFETCHT0 (DX)(R9*2)", "PREFETCHT0 (DX)(BX*1)")
		g.ins(f("ADDQ $%d, AX", k.step), f("ADDQ $%d, DX", k.step), "DECQ CX", "JNZ "+l)
	}
	wbody("far")
	g.label("near")
	g.ins("ADDQ BX, DX", "MOVQ n8+24(FP), CX", f("CMPQ CX, $%d", ahead), "JLE tail", f("MOVQ $%d, CX", ahead))
	g.label("tail")
	g.ins("TESTQ CX, CX", "JZ sum")
	wbody("last")
	g.endQuads("X15", "LEAQ (R8)(R9*4), R8")

	// 4 rows × 2 tokens: x in Y8, Y9; accumulators Y0..Y3 and Y4..Y7.
	g.raw(f("// func %sRows2(w unsafe.Pointer, stride int, x0, x1 *float32, n8, nq int, out0, out1 *float32)", k.name))
	g.raw(f("TEXT ·%sRows2(SB), NOSPLIT, $0-64", k.name))
	g.ins("MOVQ w+0(FP), R8", "MOVQ stride+8(FP), R9", "MOVQ x0+16(FP), SI", "MOVQ x1+24(FP), DX",
		"MOVQ nq+40(FP), R10", "MOVQ out0+48(FP), DI", "MOVQ out1+56(FP), BX", "TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins(rowPtrs()...)
	g.ins("MOVQ n8+32(FP), CX")
	g.ins(zero(8)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(floatBody2(k, rowMajor)...)
	g.ins(prefetches()...)
	g.ins(next...)
	g.label("sum")
	for r := 0; r < 4; r++ {
		g.ins(hsum(r, f("%d(DI)", 4*r), "X15")...)
		g.ins(hsum(r+4, f("%d(BX)", 4*r), "X15")...)
	}
	g.ins("ADDQ $16, DI", "ADDQ $16, BX", "LEAQ (R8)(R9*4), R8", "DECQ R10", "JNZ quad")
	g.label("end")
	g.ins("VZEROUPPER", "RET")
	g.raw("")
}

// floatPacked writes the Rows kernels on the packed layout: one weight
// stream per quad, which the hardware prefetcher follows without help, and
// the next quad right behind it.
func (g *gen) floatPacked(k floatKind) {
	at := packedAt(k.step)
	next := []string{f("ADDQ $%d, AX", k.step), "DECQ CX", "JNZ loop"}
	g.raw(f("// func %sRowsP(w unsafe.Pointer, x *float32, n8, nq int, out *float32)", k.name))
	g.raw(f("TEXT ·%sRowsP(SB), NOSPLIT, $0-40", k.name))
	g.ins("MOVQ w+0(FP), R8", "MOVQ x+8(FP), SI", "MOVQ nq+24(FP), R10", "MOVQ out+32(FP), DI",
		"TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins("MOVQ n8+16(FP), CX")
	g.ins(zero(4)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(floatBody(k, at)...)
	g.ins(next...)
	g.endQuads("X15", "LEAQ (R8)(AX*4), R8")

	g.raw(f("// func %sRowsP2(w unsafe.Pointer, x0, x1 *float32, n8, nq int, out0, out1 *float32)", k.name))
	g.raw(f("TEXT ·%sRowsP2(SB), NOSPLIT, $0-56", k.name))
	g.ins("MOVQ w+0(FP), R8", "MOVQ x0+8(FP), SI", "MOVQ x1+16(FP), DX", "MOVQ nq+32(FP), R10",
		"MOVQ out0+40(FP), DI", "MOVQ out1+48(FP), BX", "TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins("MOVQ n8+24(FP), CX")
	g.ins(zero(8)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(floatBody2(k, at)...)
	g.ins(next...)
	g.label("sum")
	for r := 0; r < 4; r++ {
		g.ins(hsum(r, f("%d(DI)", 4*r), "X15")...)
		g.ins(hsum(r+4, f("%d(BX)", 4*r), "X15")...)
	}
	g.ins("ADDQ $16, DI", "ADDQ $16, BX", "LEAQ (R8)(AX*4), R8", "DECQ R10", "JNZ quad")
	g.label("end")
	g.ins("VZEROUPPER", "RET")
	g.raw("")
}

// quantKind describes a quantised weight type by the bytes of a block.
type quantKind struct {
	name string
	step int
}

var quantKinds = []quantKind{{"q8", 34}, {"q4", 18}}

// qconsts sets Y15 = int16 ones, Y13 = byte ones and Y8..Y10 = dword
// indices 1..3 for VPERMPS.
func qconsts() []string {
	return []string{
		"VPCMPEQW Y15, Y15, Y15", "VPSRLW $15, Y15, Y15",
		"MOVL $0x01010101, AX", "VMOVD AX, X13", "VPBROADCASTD X13, Y13",
		"MOVL $1, AX", "VMOVD AX, X8", "VPBROADCASTD X8, Y8",
		"MOVL $2, AX", "VMOVD AX, X9", "VPBROADCASTD X9, Y9",
		"MOVL $3, AX", "VMOVD AX, X10", "VPBROADCASTD X10, Y10",
	}
}

// scales4 loads the 4 rows' f16 block scales into x as float32.
func scales4(at addrFn, x string) []string {
	s := []string{f("VPXOR %s, %s, %s", x, x, x)}
	for r := range wr {
		s = append(s, f("VPINSRW $%d, %s, %s, %s", r, at(r, 0), x, x))
	}
	return append(s, f("VCVTPH2PS %s, %s", x, x))
}

// loadQuants puts the 32 weight quants of row r's block into Y<y>:
// signed int8 for Q8_0; for Q4_0 the unsigned nibbles 0..15 (the -8 is
// applied to the lane sums, see q4Offset), with Y<tmp> as scratch.
func loadQuants(k quantKind, at addrFn, r, y, tmp int) []string {
	if k.name == "q8" {
		return []string{f("VMOVDQU %s, Y%d", at(r, 2), y)}
	}
	return []string{
		f("VMOVDQU %s, X%d", at(r, 2), y), f("VPSRLW $4, X%d, X%d", y, tmp),
		f("VINSERTI128 $1, X%d, Y%d, Y%d", tmp, y, y), f("VPAND nibmask<>(SB), Y%d, Y%d", y, y),
	}
}

// q4Offset sets Y<dst> to 8 times the sums of 4 consecutive quants of the
// activation block in Y<qx> (Y<ones8> holds byte ones, Y15 int16 ones), so
// that sum((nib-8)*qx) = sum(nib*qx) - dst lane by lane, exactly.
func q4Offset(qx, ones8, dst int) []string {
	return []string{
		f("VPMADDUBSW Y%d, Y%d, Y%d", qx, ones8, dst), f("VPMADDWD Y15, Y%d, Y%d", dst, dst),
		f("VPSLLD $3, Y%d, Y%d", dst, dst),
	}
}

// qlanes turns the quants of one row (Y<w>) and one activation block
// (Y<qx>) into the 8 exact int32 lane sums in Y<dst>, as float32. For Q4_0
// Y<off> holds the q4Offset of the block.
func qlanes(k quantKind, w, qx, dst, off int) []string {
	if k.name == "q8" {
		return []string{
			f("VPSIGNB Y%d, Y%d, Y%d", w, qx, dst), // qx with the sign of qw
			f("VPABSB Y%d, Y%d", w, w),             // |qw| (128 for -128)
			f("VPMADDUBSW Y%d, Y%d, Y%d", dst, w, dst),
			f("VPMADDWD Y15, Y%d, Y%d", dst, dst), // sums of 4 consecutive products
			f("VCVTDQ2PS Y%d, Y%d", dst, dst),
		}
	}
	return []string{
		f("VPMADDUBSW Y%d, Y%d, Y%d", qx, w, dst), // nib*qx, adjacent pairs
		f("VPMADDWD Y15, Y%d, Y%d", dst, dst),
		f("VPSUBD Y%d, Y%d, Y%d", off, dst, dst),
		f("VCVTDQ2PS Y%d, Y%d", dst, dst),
	}
}

// qblock is one block of 4 rows × 1 token: qx at (SI), dx at (DX).
// s_r = float32(dw_r*dx) for the 4 rows sits in X11; per row, lane l is
// the exact sum of 4 products and acc += float32(s_r*float32(lane)).
func qblock(k quantKind, at addrFn) []string {
	s := []string{"VMOVDQU (SI), Y4", "VBROADCASTSS (DX), X14"}
	if k.name == "q4" {
		s = append(s, q4Offset(4, 13, 12)...)
	}
	s = append(s, scales4(at, "X11")...)
	s = append(s, "VMULPS X14, X11, X11")
	for r := range wr {
		s = append(s, loadQuants(k, at, r, 5, 6)...)
		s = append(s, qlanes(k, 5, 4, 6, 12)...)
		bcast := "VBROADCASTSS X11, Y7"
		if r > 0 {
			bcast = f("VPERMPS Y11, Y%d, Y7", 7+r)
		}
		s = append(s, bcast, "VMULPS Y7, Y6, Y6", f("VADDPS Y6, Y%d, Y%d", r, r))
	}
	return append(s, f("ADDQ $%d, AX", k.step), "ADDQ $32, SI", "ADDQ $4, DX", "DECQ CX", "JNZ loop")
}

func (g *gen) quantKernels(k quantKind) {
	g.raw(f("// func %sDot4(p *[4]unsafe.Pointer, qx *int8, dx *float32, nb int, acc *[4][8]float32)", k.name))
	g.raw(f("TEXT ·%sDot4(SB), NOSPLIT, $0-40", k.name))
	g.ins(qconsts()...)
	g.ins("MOVQ p+0(FP), BX", "MOVQ 0(BX), R8", "MOVQ 8(BX), R11", "MOVQ 16(BX), R12", "MOVQ 24(BX), R13",
		"MOVQ qx+8(FP), SI", "MOVQ dx+16(FP), DX", "MOVQ nb+24(FP), CX", "MOVQ acc+32(FP), DI")
	g.ins(zero(4)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ done")
	g.label("loop")
	g.ins(qblock(k, rowMajor)...)
	g.label("done")
	for r := 0; r < 4; r++ {
		g.ins(f("VMOVUPS Y%d, %d(DI)", r, 32*r))
	}
	g.ins("VZEROUPPER", "RET")
	g.raw("")

	g.raw(f("// func %sRows(w unsafe.Pointer, stride int, qx *int8, dx *float32, nb, nq int, out *float32)", k.name))
	g.raw(f("TEXT ·%sRows(SB), NOSPLIT, $0-56", k.name))
	g.ins(qconsts()...)
	g.ins("MOVQ w+0(FP), R8", "MOVQ stride+8(FP), R9", "MOVQ nq+40(FP), R10",
		"MOVQ out+48(FP), DI", "TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins(rowPtrs()...)
	g.ins(nextQuadStart()...)
	g.ins("MOVQ qx+16(FP), SI", "MOVQ dx+24(FP), DX", "MOVQ nb+32(FP), CX")
	g.ins(zero(4)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(nextQuad(k.step)...)
	g.ins(qblock(k, rowMajor)...)
	g.endQuads("X7", "LEAQ (R8)(R9*4), R8", restoreStride()...)
}

// qblock2 is one block of 4 rows × 2 tokens: qx at (SI) and (DI), dx at
// (DX) and (BX), accumulators Y0..Y3 and Y4..Y7, the 8 block scales at
// 0(SP).
func qblock2(k quantKind, at addrFn) []string {
	var s []string
	s = append(s, "VMOVDQU (SI), Y8", "VMOVDQU (DI), Y9")
	s = append(s, scales4(at, "X12")...)
	s = append(s, "VBROADCASTSS (DX), X14", "VMULPS X14, X12, X13", "VMOVUPS X13, 0(SP)",
		"VBROADCASTSS (BX), X14", "VMULPS X14, X12, X13", "VMOVUPS X13, 16(SP)")
	if k.name == "q4" {
		s = append(s, "VMOVDQU ones8<>(SB), Y13")
		s = append(s, q4Offset(8, 13, 11)...)
		s = append(s, q4Offset(9, 13, 12)...)
	}
	for r := range wr {
		s = append(s, loadQuants(k, at, r, 10, 13)...)
		if k.name == "q8" {
			s = append(s, "VPABSB Y10, Y11") // |qw|, shared by both tokens
		}
		for t := 0; t < 2; t++ {
			if k.name == "q8" {
				s = append(s, f("VPSIGNB Y10, Y%d, Y13", 8+t), "VPMADDUBSW Y13, Y11, Y13", "VPMADDWD Y15, Y13, Y13",
					"VCVTDQ2PS Y13, Y13")
			} else {
				s = append(s, qlanes(k, 10, 8+t, 13, 11+t)...)
			}
			s = append(s, f("VBROADCASTSS %d(SP), Y14", 16*t+4*r), "VMULPS Y14, Y13, Y13", f("VADDPS Y13, Y%d, Y%d", r+4*t, r+4*t))
		}
	}
	s = append(s, f("ADDQ $%d, AX", k.step), "ADDQ $32, SI", "ADDQ $32, DI", "ADDQ $4, DX", "ADDQ $4, BX", "DECQ CX", "JNZ loop")
	return s
}

// quantKernels2 writes the 4 rows × 2 tokens kernel: qx in Y8, Y9,
// accumulators Y0..Y3 and Y4..Y7, the 8 block scales s at 0(SP).
func (g *gen) quantKernels2(k quantKind) {
	g.raw(f("// func %sRows2(w unsafe.Pointer, stride int, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32)", k.name))
	g.raw(f("TEXT ·%sRows2(SB), NOSPLIT, $32-80", k.name))
	g.ins("VPCMPEQW Y15, Y15, Y15", "VPSRLW $15, Y15, Y15",
		"MOVQ w+0(FP), R8", "MOVQ stride+8(FP), R9", "MOVQ nq+56(FP), R10", "TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins(rowPtrs()...)
	g.ins("MOVQ qx0+16(FP), SI", "MOVQ qx1+24(FP), DI", "MOVQ dx0+32(FP), DX", "MOVQ dx1+40(FP), BX",
		"MOVQ nb+48(FP), CX")
	g.ins(nextQuadStart()...)
	g.ins(zero(8)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(nextQuad(k.step)...)
	g.ins(qblock2(k, rowMajor)...)
	g.endQuads2(64, "LEAQ (R8)(R9*4), R8", restoreStride()...)
}

// qprefetch is how far ahead, in bytes, the packed quantised kernels
// prefetch their one weight stream; it runs on into the next quad, which
// follows in memory.
const qprefetch = 1536

// packedPrefetch prefetches the lines of the packed stream that lie
// qprefetch bytes past the 4*step bytes of the current block step.
func packedPrefetch(step int) []string {
	var s []string
	for off := 0; off < 4*step; off += 64 {
		s = append(s, f("PREFETCHT0 %d(R8)(AX*4)", qprefetch+off))
	}
	return s
}

// quantPacked writes the Rows kernels of a quantised type on the packed
// layout (see kernels.Pack): per block step the 4 rows' blocks lie side by
// side, so a quad is one sequential stream, prefetched qprefetch bytes
// ahead. The arithmetic is qblock's and qblock2's, block for block.
func (g *gen) quantPacked(k quantKind) {
	at := packedAt(k.step)
	g.raw(f("// func %sRowsP(w unsafe.Pointer, qx *int8, dx *float32, nb, nq int, out *float32)", k.name))
	g.raw(f("TEXT ·%sRowsP(SB), NOSPLIT, $0-48", k.name))
	g.ins(qconsts()...)
	g.ins("MOVQ w+0(FP), R8", "MOVQ nq+32(FP), R10", "MOVQ out+40(FP), DI", "TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins("MOVQ qx+8(FP), SI", "MOVQ dx+16(FP), DX", "MOVQ nb+24(FP), CX")
	g.ins(zero(4)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(packedPrefetch(k.step)...)
	g.ins(qblock(k, at)...)
	g.endQuads("X7", "LEAQ (R8)(AX*4), R8")

	g.raw(f("// func %sRowsP2(w unsafe.Pointer, qx0, qx1 *int8, dx0, dx1 *float32, nb, nq int, out0, out1 *float32)", k.name))
	g.raw(f("TEXT ·%sRowsP2(SB), NOSPLIT, $32-72", k.name))
	g.ins("VPCMPEQW Y15, Y15, Y15", "VPSRLW $15, Y15, Y15",
		"MOVQ w+0(FP), R8", "MOVQ nq+48(FP), R10", "TESTQ R10, R10", "JZ end")
	g.label("quad")
	g.ins("MOVQ qx0+8(FP), SI", "MOVQ qx1+16(FP), DI", "MOVQ dx0+24(FP), DX", "MOVQ dx1+32(FP), BX",
		"MOVQ nb+40(FP), CX")
	g.ins(zero(8)...)
	g.ins("XORQ AX, AX", "TESTQ CX, CX", "JZ sum")
	g.label("loop")
	g.ins(packedPrefetch(k.step)...)
	g.ins(qblock2(k, at)...)
	g.endQuads2(56, "LEAQ (R8)(AX*4), R8")
}

func main() {
	out := flag.String("o", "simd_amd64.s", "output file")
	flag.Parse()
	var g gen
	g.raw(header)
	for _, k := range floatKinds {
		g.floatKernels(k)
	}
	for _, k := range quantKinds {
		g.quantKernels(k)
	}
	g.raw(byteConsts)
	for _, k := range quantKinds {
		g.quantKernels2(k)
	}
	for _, k := range floatKinds {
		g.floatPacked(k)
	}
	g.quantPacked(quantKinds[0]) // Q8_0 only: Q4_0 rows are not packed
	g.expConsts()
	g.expSub()
	g.swiglu()
	g.wsum(1)
	g.wsum(4)
	g.wsum(8)
	qround := []string{
		"VMULPS Y7, Y, Y", "VMINPS Y12, Y, Y", "VMAXPS Y9, Y, Y", "VROUNDPS $3, Y, Y4", "VSUBPS Y4, Y, Y5",
		"VANDPS Y15, Y5, Y5", "VCMPPS $13, Y14, Y5, Y5", "VANDNPS Y, Y15, Y6", "VORPS Y13, Y6, Y6",
		"VANDPS Y5, Y6, Y6", "VADDPS Y6, Y4, Y", "VCVTTPS2DQ Y, Y",
	}
	g.raw("// QROUND(Y) sets the 8 floats x of Y to int32(clamp(roundf(x*id), -127, 127)),")
	g.raw("// id broadcast in Y7; Y9 = -127, Y12 = 127, Y13 = 1, Y14 = 0.5, Y15 = abs mask.")
	g.raw("#define QROUND(Y) \\\n\t" + strings.Join(qround, "; \\\n\t") + "\n")
	g.raw(quantizer)
	if err := os.WriteFile(*out, []byte(g.b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}
