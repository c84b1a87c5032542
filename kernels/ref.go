package kernels

import (
	"encoding/binary"
	"math"

	"github.com/splitup/splitup/ir"
)

// Reference returns the scalar, single-threaded kernels. Their code is the
// specification of every op's numerics; [Fast] must match it bit for bit.
func Reference() Kernels { return reference{} }

type reference struct{}

// dotF32 is the canonical f32 dot product: 8 lane sums, lane i%8 adding
// float32(a[i]*b[i]) in increasing i, combined by tree8.
func dotF32(a, b []float32) float32 {
	var l [8]float32
	for i := range a {
		l[i%8] += float32(a[i] * b[i])
	}
	return tree8(&l)
}

// QuantizeRowQ8 quantises an activation row for the quantised dot
// products: per block of 32, amax = max |x| (NaN if any element is NaN),
// dx = amax/127, id = 1/dx (0 when dx = 0) and qx = roundf(x*id) clamped to
// [-127, 127], all in float32; a NaN element gives qx = 0 (its block's scale
// is already NaN). len(x) must be a multiple of 32; qx gets len(x) quants
// and dx len(x)/32 scales.
func QuantizeRowQ8(qx []int8, dx []float32, x []float32) {
	for b := range dx {
		blk := x[b*ir.QBlock : (b+1)*ir.QBlock]
		var amax float32
		for _, v := range blk {
			if a := abs32(v); a > amax || v != v {
				amax = a
				if v != v {
					break
				}
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		dx[b] = d
		for j, v := range blk {
			qx[b*ir.QBlock+j] = int8(clamp32(roundHalfAway(v*id), -127, 127))
		}
	}
}

// dotRowRef is the canonical dot product of weight row w (cols elements
// of type dt) with activation row x; qx/dx hold x quantised by
// QuantizeRowQ8 when dt is quantised.
func dotRowRef(w []byte, dt ir.DType, x []float32, qx []int8, dx []float32) float32 {
	var l [8]float32
	switch dt {
	case ir.F32:
		for i := range x {
			l[i%8] += float32(math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) * x[i])
		}
	case ir.F16:
		for i := range x {
			l[i%8] += float32(F16ToF32(binary.LittleEndian.Uint16(w[2*i:])) * x[i])
		}
	case ir.BF16:
		for i := range x {
			l[i%8] += float32(BF16ToF32(binary.LittleEndian.Uint16(w[2*i:])) * x[i])
		}
	case ir.Q8_0, ir.Q4_0:
		bb := dt.BlockBytes()
		var qw [ir.QBlock]int32
		for b := range dx {
			blk := w[b*bb : (b+1)*bb]
			dw := F16ToF32(binary.LittleEndian.Uint16(blk))
			for j := range qw {
				if dt == ir.Q8_0 {
					qw[j] = int32(int8(blk[2+j]))
				} else if j < ir.QBlock/2 {
					qw[j] = int32(blk[2+j]&0xf) - 8
				} else {
					qw[j] = int32(blk[2+j-ir.QBlock/2]>>4) - 8
				}
			}
			s := dw * dx[b]
			for lane := 0; lane < 8; lane++ {
				var sum int32
				for j := 4 * lane; j < 4*lane+4; j++ {
					sum += qw[j] * int32(qx[b*ir.QBlock+j])
				}
				l[lane] += float32(s * float32(sum))
			}
		}
	}
	return tree8(&l)
}

func (reference) MatMul(out, x []float32, n int, w []byte, dt ir.DType, rows, cols int) {
	checkMatMul(out, x, n, w, dt, rows, cols)
	rowBytes := cols / dt.BlockSize() * dt.BlockBytes()
	qx := make([]int8, cols)
	dx := make([]float32, cols/ir.QBlock)
	for t := 0; t < n; t++ {
		xt := x[t*cols : (t+1)*cols]
		if dt.Quantized() {
			QuantizeRowQ8(qx, dx, xt)
		}
		for i := 0; i < rows; i++ {
			out[t*rows+i] = dotRowRef(w[i*rowBytes:(i+1)*rowBytes], dt, xt, qx, dx)
		}
	}
}

func (reference) Embed(out []float32, table []byte, dt ir.DType, rows, d int, ids []int32) error {
	if err := checkEmbed(out, table, dt, rows, d, ids); err != nil {
		return err
	}
	embed(out, table, dt, d, ids)
	return nil
}

// rmsNormRow is the canonical RMSNorm of one row.
func rmsNormRow(out, x, w []float32, eps float32) {
	ss := dotF32(x, x)
	r := 1 / sqrt32(ss/float32(len(x))+eps)
	for i, v := range x {
		out[i] = float32(w[i] * float32(r*v))
	}
}

func (reference) RMSNorm(out, x []float32, n, d int, w []float32, eps float32) {
	mustLen("RMSNorm x", len(x), n*d)
	mustLen("RMSNorm out", len(out), n*d)
	mustLen("RMSNorm w", len(w), d)
	for t := 0; t < n; t++ {
		rmsNormRow(out[t*d:(t+1)*d], x[t*d:(t+1)*d], w, eps)
	}
}

// ropeRows rotates rows [lo, hi) of x into out.
func ropeRows(out, x []float32, lo, hi, width int, pos []int32, headSize int, theta float32) {
	for t := lo; t < hi; t++ {
		cs := ropeRow(theta, headSize, pos[t])
		for h := 0; h < width; h += headSize {
			for i := 0; i < headSize/2; i++ {
				j := t*width + h + 2*i
				c, s := cs[2*i], cs[2*i+1]
				x0, x1 := x[j], x[j+1]
				out[j] = float32(x0*c) - float32(x1*s)
				out[j+1] = float32(x0*s) + float32(x1*c)
			}
		}
	}
}

func checkRoPE(out, x []float32, n, width int, pos []int32, headSize int, theta float32) {
	if headSize <= 0 || headSize%2 != 0 || width%headSize != 0 {
		panic("kernels: RoPE needs an even headSize dividing width")
	}
	if !(theta >= 1) || theta > math.MaxFloat32 {
		panic("kernels: RoPE needs a finite theta >= 1")
	}
	mustLen("RoPE x", len(x), n*width)
	mustLen("RoPE out", len(out), n*width)
	mustLen("RoPE pos", len(pos), n)
	for _, p := range pos {
		if p < 0 {
			panic("kernels: RoPE with a negative position")
		}
	}
}

func (reference) RoPE(out, x []float32, n, width int, pos []int32, headSize int, theta float32) {
	checkRoPE(out, x, n, width, pos, headSize, theta)
	ropeRows(out, x, 0, n, width, pos, headSize, theta)
}

// softmaxRow is the canonical softmax of one row: m = max, e_i =
// exp32(x_i - m), sum in the dotF32 lane order, out_i = e_i / sum.
// out may be x.
func softmaxRow(out, x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var l [8]float32
	for i, v := range x {
		e := exp32(v - m)
		out[i] = e
		l[i%8] += e
	}
	sum := tree8(&l)
	for i := range out[:len(x)] {
		out[i] /= sum
	}
}

func (reference) Softmax(out, x []float32, n, d int) {
	mustLen("Softmax x", len(x), n*d)
	mustLen("Softmax out", len(out), n*d)
	for t := 0; t < n; t++ {
		softmaxRow(out[t*d:(t+1)*d], x[t*d:(t+1)*d])
	}
}

// silu32 is the canonical x*sigmoid(x) = x / (1 + exp32(-x)).
func silu32(x float32) float32 { return x / float32(1+exp32(-x)) }

func siluRange(out, x []float32) {
	for i, v := range x {
		out[i] = silu32(v)
	}
}

func swigluRange(out, g, u []float32) {
	for i := range out {
		out[i] = float32(silu32(g[i]) * u[i])
	}
}

func reluRange(out, x []float32) {
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		out[i] = v
	}
}

// addRange writes out[i] = a[i] + b[(off+i) % len(b)].
func addRange(out, a, b []float32, off int) {
	j := off % len(b)
	for i := range out {
		out[i] = a[i] + b[j]
		if j++; j == len(b) {
			j = 0
		}
	}
}

// mulRange writes out[i] = a[i] * b[(off+i) % len(b)].
func mulRange(out, a, b []float32, off int) {
	j := off % len(b)
	for i := range out {
		out[i] = a[i] * b[j]
		if j++; j == len(b) {
			j = 0
		}
	}
}

func (reference) SiLU(out, x []float32) {
	mustLen("SiLU out", len(out), len(x))
	siluRange(out, x)
}

func (reference) SwiGLU(out, gate, up []float32) {
	mustLen("SwiGLU out", len(out), len(gate))
	mustLen("SwiGLU up", len(up), len(gate))
	swigluRange(out, gate, up)
}

func (reference) Relu(out, x []float32) {
	mustLen("Relu out", len(out), len(x))
	reluRange(out, x)
}

func (reference) Add(out, a, b []float32) {
	bcast("Add", out, a, b)
	if len(a) > 0 {
		addRange(out, a, b, 0)
	}
}

func (reference) Mul(out, a, b []float32) {
	bcast("Mul", out, a, b)
	if len(a) > 0 {
		mulRange(out, a, b, 0)
	}
}

func (reference) Attention(out, q, k, v []float32, n int, pos []int32, kc, vc []float32, ctx, heads, kvHeads, headSize int) error {
	if err := checkAttention(out, q, k, v, n, pos, kc, vc, ctx, heads, kvHeads, headSize); err != nil {
		return err
	}
	storeKV(k, v, pos, kc, vc, ctx, kvHeads, headSize)
	att := make([]float32, ctx)
	scale := sqrt32(float32(headSize))
	for t := 0; t < n; t++ {
		for h := 0; h < heads; h++ {
			g := h / (heads / kvHeads)
			qh := q[(t*heads+h)*headSize:][:headSize]
			a := att[:pos[t]+1]
			for j := range a {
				a[j] = dotF32(qh, kc[(g*ctx+j)*headSize:][:headSize]) / scale
			}
			softmaxRow(a, a)
			o := out[(t*heads+h)*headSize:][:headSize]
			for d := range o {
				o[d] = 0
			}
			for j, aj := range a {
				vj := vc[(g*ctx+j)*headSize:][:headSize]
				for d := range o {
					o[d] += float32(aj * vj[d])
				}
			}
		}
	}
	return nil
}
