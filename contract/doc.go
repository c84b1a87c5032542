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
//     code CodeOK may be proposed. A nonce up to MaxNonceGap ahead passes
//     CheckTx, so a sender can queue several txs.
//  3. For each block, in order: BeginBlock(header) with Height = Height()+1;
//     DeliverTx(raw) for every tx of the block in block order (record each
//     TxResult in the block results); EndBlock(). Report the events of all
//     three to the chain's event stream.
//  4. After EndBlock, AppHash() is the block's application hash. Persist
//     Snapshot() before acknowledging the commit.
//  5. Query(path, nil) answers read-only JSON queries between blocks.
//  6. A State is not safe for concurrent use; the caller serialises all
//     calls, CheckTx included.
//
// Clients build txs with NewTx, sign them with Tx.Sign and send EncodeTx's
// bytes. Every failure of a tx is a Code* result with a deterministic Log.
// A tx that fails the checks CheckTx also makes (encoding, chain id,
// signature, nonce, fee) changes nothing; one whose message then fails in
// DeliverTx pays its fee and uses its nonce, and changes nothing else. Go
// errors are returned only by constructors, decoders and Query.
//
// # Timing
//
// Work created in block h (a request, a failure, a commitment, a validator
// that disagreed or timed out) is assigned or drawn in EndBlock of a later
// block, from that block's beacon, so no party can predict the draw when it
// acts. Task deadlines are DeadlineBase + DeadlinePerCU × compute units ×
// max tokens of block time, doubled at each reassignment; a node whose last
// heartbeat is older than MissedBeats × HeartbeatNanos is offline.
//
// # Money
//
// Amounts are uint64 base units (Token = 10⁶ units). A request escrows
// MaxFee, which must cover, per task, the price PricePerCU × CU × MaxTokens
// plus the verification surcharge price × p × Rv. At commit the task's
// payment becomes PricePerCU × CU × Steps and its surcharge moves to the
// pool (PoolAddress), which also receives tx fees. A validator whose result
// matches is paid Rv × payment from the pool. On a dispute a tie-breaker
// decides; the loser is slashed S × payment (stake first, then unbonding
// stake), each winning validator gets Rv × payment out of the slashed amount
// and the rest goes to the pool; a caught asserter forfeits its payment to
// the user. Payments are released after the challenge window once
// verification is resolved; the rest of the escrow returns to the user when
// every task is settled or cancelled. Supply() never changes after genesis.
//
// # Custody, cancellation, retention
//
// Commitments that contradict each other (a tensor's root as one task
// produced it and another consumed it, or the step count) are all taken:
// the tasks are marked disputed and verified whatever their draw, and a
// disputed task is paid only if its own verification passed and a
// contradicting task's caught that one cheating. Cancelling (or a failed
// execution) cancels the tasks not yet assigned; a running task may still
// commit the steps it ran until its deadline. Only the requester reports a
// task's node as failed. An execution is dropped from the state RetainNanos
// after it settles. Unbonding stake (at least ChallengeNanos) is released
// only once no unresolved verification may slash its node.
package contract
