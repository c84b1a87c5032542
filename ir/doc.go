// Package ir is SplitUp's graph intermediate representation: element types,
// shapes, a small closed set of tensor operations that expresses LLaMA-family
// decoders and plain MLPs, a Builder, a Verifier, and a canonical binary
// encoding whose SHA-256 is a graph's identity.
//
// A Graph is pure data. It describes one step of a model over a batch of n
// rows (tokens). Tensors are of four kinds:
//
//   - Input: supplied per step; shape is per row, the batch dimension n is implicit.
//   - Weight: constant, bound by name when the graph is run; full shape.
//   - State: persistent per session (a KV cache), owned by the ops that use it; full shape.
//   - Value: produced by an op; per row, like inputs.
//
// Using a graph:
//
//  1. Build it with a Builder (or decode it with Decode / UnmarshalJSON).
//  2. Verify it (Builder.Build and Decode do this).
//  3. Hash it (Graph.Hash) to name it on chain; encode it (Graph.Encode) to ship it.
//  4. Run it with package exec, binding weights by name.
//
// Model files are data: nothing in a graph is ever executed as code.
package ir
