package ir

import "fmt"

// Op is one operation of the closed op set. Package kernels defines the
// numerics of each op; this package defines operands, attributes and shapes.
type Op uint8

// The op set. Operands are listed as Args; "row" shapes exclude the batch
// dimension. The numeric values are part of the canonical encoding.
const (
	// OpNone marks inputs, weights and states.
	OpNone Op = iota
	// OpEmbed(table weight [V D], ids i32 []) -> f32 [D]: row ids of the table.
	OpEmbed
	// OpMatMul(x f32 [K], w weight [N K]) -> f32 [N]: out[i] = dot(w[i], x).
	OpMatMul
	// OpAdd(a f32 S, b f32 S) -> S; b may be a weight (broadcast over rows).
	OpAdd
	// OpMul(a f32 S, b f32 S) -> S; b may be a weight (broadcast over rows).
	OpMul
	// OpRMSNorm(x f32 [D], w f32 weight [D]; Eps) -> [D].
	OpRMSNorm
	// OpRoPE(x f32 [W], pos i32 []; HeadSize, Theta) -> [W], adjacent pairs.
	OpRoPE
	// OpSoftmax(x f32 S) -> S, over the last dimension.
	OpSoftmax
	// OpSiLU(x f32 S) -> S.
	OpSiLU
	// OpSwiGLU(gate f32 S, up f32 S) -> S: silu(gate)*up.
	OpSwiGLU
	// OpRelu(x f32 S) -> S.
	OpRelu
	// OpAttention(q [H*hs], k [KV*hs], v [KV*hs], pos i32 [], kcache state [C KV*hs],
	// vcache state [C KV*hs]; Heads, KVHeads, HeadSize) -> [H*hs]. Appends k, v
	// at position pos to the caches, then attends causally over positions
	// 0..pos. The caches' contents are the kernels' own (kv head by head,
	// C positions each), never read by anything else.
	OpAttention
	// OpReshape(x S; Shape) -> Shape with the same element count.
	OpReshape
	// OpSlice(x S; Axis, Start, End) -> S with S[Axis] = End-Start.
	OpSlice
	// OpConcat(a S, b T; Axis) -> shapes equal except on Axis, which adds.
	OpConcat

	numOps
)

var opNames = [...]string{"none", "embed", "matmul", "add", "mul", "rmsnorm", "rope", "softmax",
	"silu", "swiglu", "relu", "attention", "reshape", "slice", "concat"}

// Valid reports whether o is in the op set.
func (o Op) Valid() bool { return o < numOps }

// String returns the lower-case op name.
func (o Op) String() string {
	if o.Valid() {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// MarshalText implements encoding.TextMarshaler.
func (o Op) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOp, uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *Op) UnmarshalText(b []byte) error {
	for i, n := range opNames {
		if n == string(b) {
			*o = Op(i)
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrUnknownOp, b)
}

// arity is the number of operands of each op.
var arity = [...]int{OpNone: 0, OpEmbed: 2, OpMatMul: 2, OpAdd: 2, OpMul: 2, OpRMSNorm: 2, OpRoPE: 2,
	OpSoftmax: 1, OpSiLU: 1, OpSwiGLU: 2, OpRelu: 1, OpAttention: 6, OpReshape: 1, OpSlice: 1, OpConcat: 2}

// Arity returns the number of operands o takes.
func (o Op) Arity() int {
	if !o.Valid() {
		return -1
	}
	return arity[o]
}
