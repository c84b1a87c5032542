// Package contract is the deterministic state machine of the SplitUp
// app-chain: accounts and signed txs, the model and node registries,
// executions with escrow, deadlines and reassignment, and Proof of Sampling
// (PoSP) verification with slashing.
//
// The package performs no I/O and reads no clock or RNG: time is the block
// time of the Header, randomness is the Header's VRF beacon. Equal inputs give
// equal state and equal AppHash on every replica. A test
// (determinism_test.go) rejects forbidden imports, goroutines, floats and
// ranging over maps.
//
// # Calling protocol
//
//  1. Build the state once with NewState(genesis), or LoadState(snapshot)
//     when restarting from a persisted Snapshot.
//  2. For the mempool, call CheckTx(raw); it never changes state. Txs with
//     code CodeOK may be proposed.
//  3. For each block, in order: BeginBlock(header) with Height = Height()+1;
//     DeliverTx(raw) for every tx of the block in block order (record each
//     TxResult in the block results); EndBlock().
//  4. After EndBlock, AppHash() is the block's application hash. Persist
//     Snapshot() (or at least the block) before acknowledging the commit.
//  5. Query(path, nil) answers read-only JSON queries between blocks.
//  6. A State is not safe for concurrent use; the caller serialises all
//     calls, CheckTx included.
//
// Clients build txs with NewTx, sign them with Tx.Sign and send EncodeTx's
// bytes. Every failure of a tx is a Code* result with a deterministic Log;
// Go errors are returned only by constructors, decoders and Query.
package contract
