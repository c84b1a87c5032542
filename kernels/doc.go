// Package kernels computes the numerics of every op of the SplitUp graph IR.
//
// Two implementations share one interface, [Kernels]:
//
//   - [Reference] is scalar and single-threaded. Its code is the
//     specification: every reduction runs in one canonical order, and every
//     product is rounded to float32 before it is added (no fused
//     multiply-add anywhere).
//   - [Fast] runs on a persistent worker pool and uses AVX2 assembly on amd64
//     where it pays, with a pure-Go fallback that follows the same order.
//     Its results are bit-identical to [Reference] at any thread count.
//
// The canonical orders:
//
//  1. An f32 dot product over K elements keeps 8 lane sums,
//     lane[i%8] += float32(a[i]*b[i]) for i = 0..K-1 in increasing i, lanes
//     starting at +0, and returns ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
//     F16 and BF16 weights are first converted exactly to f32.
//  2. For Q8_0 and Q4_0 weights the activation row is quantised to blocks of
//     32 int8 with an f32 scale (see [QuantizeRowQ8]). Per block, lane l is
//     the exact integer sum of the 4 products qw*qx of elements 4l..4l+3, and
//     acc[l] += float32(s * float32(lane_l)) with s = float32(dw*dx); the
//     result is the tree of rule 1 over acc.
//  3. Attention, softmax and RMSNorm reduce with rule 1; attention's weighted
//     sum of values adds float32(a_j*v_j[d]) in increasing j from +0.
//
// Work is split only over independent outputs (rows, heads), never inside a
// reduction, so results do not depend on the thread count or on which other
// rows share a batch.
package kernels
