// Package exec runs an ir.Graph (a whole model or one task of a plan) on the
// CPU with per-session state.
//
// Running a graph:
//
//  1. Bind its weights: New(graph, weights, Options) checks that every weight
//     the graph declares is present with its dtype, shape and byte length.
//  2. Open a session per conversation: Program.NewSession. A session owns the
//     graph's State tensors (KV caches), zeroed on first use.
//  3. Call Session.Run with the graph's inputs for n rows: n = 1 is a decode
//     step, n > 1 a batched prefill. Outputs come back with n rows. The
//     kernels are batch invariant, so a prefill of n tokens gives, row for
//     row, the same bits as n single steps.
//  4. Close the program to stop its worker threads.
//
// Memory planning: value buffers are recycled as soon as their last reader
// has run, so peak memory is the largest live set, not the sum of all values.
package exec
