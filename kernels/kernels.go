package kernels

import (
	"errors"
	"fmt"

	"github.com/splitup/splitup/ir"
)

// Kernels computes the ops of a graph. All slices are row-major; n is the
// number of rows (tokens). Outputs are written, never read, and must not
// alias inputs unless a method says otherwise. Methods without an error
// result panic when slice lengths do not match the given shape, which is a
// broken invariant of the caller (the graph verifier checks shapes first).
type Kernels interface {
	// Embed writes the dequantised table row ids[t] to out[t*d:(t+1)*d].
	// table holds rows×d elements of type dt. It fails, writing nothing,
	// when an id is outside [0, rows).
	Embed(out []float32, table []byte, dt ir.DType, rows, d int, ids []int32) error
	// MatMul computes out[t*rows+i] = dot(W row i, x row t) for t < n. W is
	// rows×cols elements of type dt (F32, F16, BF16, Q8_0 or Q4_0),
	// row-major [out][in]; x is n×cols.
	MatMul(out, x []float32, n int, w []byte, dt ir.DType, rows, cols int)
	// RMSNorm normalises each of the n rows of x (width d) by its root
	// mean square and scales it by w.
	RMSNorm(out, x []float32, n, d int, w []float32, eps float32)
	// RoPE rotates adjacent pairs (2i, 2i+1) of every head of every row t
	// by the angle pos[t]*theta^(-2i/headSize) (the llama2.c convention:
	// frequency, angle, cos and sin each rounded to float32, see ropeRow);
	// width = heads*headSize, theta is finite and at least 1. out may be x.
	RoPE(out, x []float32, n, width int, pos []int32, headSize int, theta float32)
	// Softmax writes the softmax of each of the n rows of x (width d).
	Softmax(out, x []float32, n, d int)
	// SiLU writes x*sigmoid(x) elementwise. out may be x.
	SiLU(out, x []float32)
	// SwiGLU writes silu(gate)*up elementwise. out may be gate or up.
	SwiGLU(out, gate, up []float32)
	// Relu writes max(x, 0) elementwise (NaN stays NaN). out may be x.
	Relu(out, x []float32)
	// Add writes a+b elementwise; len(b) may divide len(a), in which case
	// b is repeated over the rows of a (a bias). out may be a.
	Add(out, a, b []float32)
	// Mul writes a*b elementwise with the broadcasting of Add. out may be a.
	Mul(out, a, b []float32)
	// Attention first writes the n rows of k and v (each kvHeads*headSize
	// wide) at positions pos[t] of the caches kc and vc, then, for each row
	// t and head h, attends causally with q's head h over positions
	// 0..pos[t] of kv head g = h/(heads/kvHeads), writing
	// out[t*heads*headSize + h*headSize:][:headSize]. A cache holds its kv
	// heads one after the other, ctx positions each: position p of head g
	// is kc[(g*ctx+p)*headSize:][:headSize], so a head's keys and values
	// are each one sequential run. It fails, changing nothing, when a
	// position is outside [0, ctx).
	Attention(out, q, k, v []float32, n int, pos []int32, kc, vc []float32, ctx, heads, kvHeads, headSize int) error
}

// ErrIndex is returned (wrapped) when a token id or position is out of range.
var ErrIndex = errors.New("index out of range")

func mustLen(what string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("kernels: %s has %d elements, want %d", what, got, want))
	}
}

func mustAtLeast(what string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("kernels: %s has %d elements, want at least %d", what, got, want))
	}
}

// checkMatMul validates the operands of MatMul.
func checkMatMul(out, x []float32, n int, w []byte, dt ir.DType, rows, cols int) {
	if n < 0 || rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: MatMul with negative shape n=%d rows=%d cols=%d", n, rows, cols))
	}
	switch dt {
	case ir.F32, ir.F16, ir.BF16, ir.Q8_0, ir.Q4_0:
	default:
		panic(fmt.Sprintf("kernels: MatMul weight dtype %v", dt))
	}
	if cols%dt.BlockSize() != 0 {
		panic(fmt.Sprintf("kernels: MatMul %v weights need cols %% %d == 0, got %d", dt, dt.BlockSize(), cols))
	}
	mustLen("MatMul out", len(out), n*rows)
	mustLen("MatMul x", len(x), n*cols)
	mustLen("MatMul w", len(w), rows*(cols/dt.BlockSize())*dt.BlockBytes())
}

// checkEmbed validates the operands of Embed and returns an error for ids
// out of range.
func checkEmbed(out []float32, table []byte, dt ir.DType, rows, d int, ids []int32) error {
	if !dt.Float() {
		return fmt.Errorf("kernels: embedding table of %v: %w", dt, ir.ErrDType)
	}
	if d < 0 || rows < 0 || d%dt.BlockSize() != 0 {
		return fmt.Errorf("kernels: embedding rows of %d %v elements: %w", d, dt, ir.ErrShape)
	}
	if want := rows * (d / dt.BlockSize()) * dt.BlockBytes(); len(table) != want {
		return fmt.Errorf("kernels: embedding table has %d bytes, want %d: %w", len(table), want, ir.ErrShape)
	}
	if len(out) != len(ids)*d {
		return fmt.Errorf("kernels: embedding output has %d elements, want %d: %w", len(out), len(ids)*d, ir.ErrShape)
	}
	for t, id := range ids {
		if id < 0 || int(id) >= rows {
			return fmt.Errorf("kernels: token %d has id %d, vocabulary has %d rows: %w", t, id, rows, ErrIndex)
		}
	}
	return nil
}

// embed does the work of Embed after checkEmbed.
func embed(out []float32, table []byte, dt ir.DType, d int, ids []int32) {
	rowBytes := d / dt.BlockSize() * dt.BlockBytes()
	for t, id := range ids {
		dequantRow(out[t*d:(t+1)*d], table[int(id)*rowBytes:(int(id)+1)*rowBytes], dt)
	}
}

// checkAttention validates the operands of Attention.
func checkAttention(out, q, k, v []float32, n int, pos []int32, kc, vc []float32, ctx, heads, kvHeads, headSize int) error {
	if n < 0 || ctx < 0 || heads <= 0 || kvHeads <= 0 || headSize <= 0 || heads%kvHeads != 0 {
		return fmt.Errorf("kernels: attention with n=%d ctx=%d heads=%d kvHeads=%d headSize=%d: %w", n, ctx, heads, kvHeads, headSize, ir.ErrShape)
	}
	kvDim := kvHeads * headSize
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"out", len(out), n * heads * headSize}, {"q", len(q), n * heads * headSize},
		{"k", len(k), n * kvDim}, {"v", len(v), n * kvDim}, {"pos", len(pos), n},
		{"key cache", len(kc), ctx * kvDim}, {"value cache", len(vc), ctx * kvDim},
	} {
		if c.got != c.want {
			return fmt.Errorf("kernels: attention %s has %d elements, want %d: %w", c.what, c.got, c.want, ir.ErrShape)
		}
	}
	for t, p := range pos {
		if p < 0 || int(p) >= ctx {
			return fmt.Errorf("kernels: row %d has position %d, context holds %d: %w", t, p, ctx, ErrIndex)
		}
	}
	return nil
}

// storeKV copies the new keys and values into the caches, each kv head's
// part of a row to that head's run of ctx positions.
func storeKV(k, v []float32, pos []int32, kc, vc []float32, ctx, kvHeads, headSize int) {
	kvDim := kvHeads * headSize
	for t, p := range pos {
		for g := 0; g < kvHeads; g++ {
			at := (g*ctx + int(p)) * headSize
			copy(kc[at:at+headSize], k[t*kvDim+g*headSize:][:headSize])
			copy(vc[at:at+headSize], v[t*kvDim+g*headSize:][:headSize])
		}
	}
}

// bcast checks the broadcasting operands of Add and Mul.
func bcast(what string, out, a, b []float32) {
	mustLen(what+" out", len(out), len(a))
	if len(b) == 0 {
		if len(a) != 0 {
			panic(fmt.Sprintf("kernels: %s with empty b", what))
		}
		return
	}
	if len(a)%len(b) != 0 {
		panic(fmt.Sprintf("kernels: %s: len(b)=%d does not divide len(a)=%d", what, len(b), len(a)))
	}
}
