// Package node is the worker daemon of a GPU owner: it loads the shards of
// the tasks it specialises in, serves pipeline sessions over p2p, records
// what each session received and produced, and commits Merkle roots of
// those records on chain.
//
// Serving a session (Worker):
//
//  1. The gateway opens a pipeline stream and sends OpenSession naming the
//     model, the task and a session id; the worker checks (Authorizer) that
//     the chain assigned it that task and that the gateway is the peer of
//     the account that requested the execution, and answers an empty
//     StepResult.
//  2. Each Step carries the task's inputs for n ≥ 1 positions (n > 1 is a
//     batched prefill, e.g. a KV-cache rebuild after failover). The worker
//     runs the task's program on the session's KV cache and answers the
//     outputs.
//  3. Inputs and outputs are recorded row by row (one leaf per position), so
//     the per-tensor Merkle roots do not depend on how steps were batched.
//     A Fetch returns recorded rows: the gateway rebuilds the next stage on
//     a replacement node from them.
//  4. For a chain of tasks the gateway routes each stage (Route): the
//     worker opens a relay stream to the next stage's node (Attach) and
//     sends each step's outputs there as that node's Step instead of back
//     to the gateway; it takes relayed steps only from the peer the route
//     names; only the last stage answers the gateway (relay.go).
//  5. On Close (or a broken stream) the worker reports the roots
//     (SessionEnd) for the daemon to commit.
package node
