// Package chain runs the contract state machine (package contract) as a
// CometBFT v0.38 ABCI++ application, in process, and offers the RPC client
// that nodes, the gateway and the CLIs use. It is the only package that
// imports CometBFT.
//
// # A block, step by step
//
//  1. PrepareProposal (proposer only): the first tx of the block becomes a
//     beacon entry, the ECVRF-EDWARDS25519-SHA512-ELL2 proof (RFC 9381) of
//     alpha = previous beacon ‖ height (uint64 big-endian), made with the
//     proposer's CometBFT validator key (ed25519). Mempool txs follow, up to
//     MaxTxBytes.
//  2. ProcessProposal (every validator): the block is rejected unless its
//     first tx is a beacon entry for this height whose proof verifies
//     against the proposer's public key from the validator set, and no other
//     tx is one.
//  3. FinalizeBlock: the beacon is the first 32 bytes of the VRF output;
//     contract BeginBlock(header with the beacon), DeliverTx for every other
//     tx, EndBlock. Tx events become ExecTxResult events; BeginBlock and
//     EndBlock events and a "Beacon" event become block events. The new
//     state is staged and its app hash (SHA-256 of the contract snapshot)
//     returned.
//  4. Commit: the staged snapshot, height, app hash, beacon and validator set
//     are written to HOME/data/app.state (temp file, fsync, rename, fsync
//     directory). A write failure stops the node.
//  5. On start, Info reports the committed height and app hash, and CometBFT
//     replays the blocks the application has not committed, so a validator
//     killed at any moment comes back to the same state.
//
// CheckTx and Query go to the contract too; Query answers from committed
// state only, and the adapter adds the path "chain/info" (height, app hash,
// beacon). The contract's CheckTx accepts nonces ahead of the account's next
// one, so a sender may have several txs in one block; Signer keeps them in
// order.
//
// # Running
//
// InitNetwork writes keys, the genesis (the contract Genesis is its
// app_state) and a NodeConfig per validator; StartNode runs one. Dial returns
// a Client over a validator's RPC: Subscribe takes every block over the
// websocket and delivers its events in order; Watch has the validator send
// only the txs and blocks holding an event with a given attribute value (a
// node watches the verification requests addressed to it), which costs an
// idle watcher nothing per block. The splitup command wraps these as
// 'splitup chain init', 'splitup chain start', 'splitup query' and
// 'splitup tx'.
package chain
