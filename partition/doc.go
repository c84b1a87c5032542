// Package partition cuts the graph of one decoding step into tasks that
// each fit a memory budget, proves how good the cut is, and places tasks
// on nodes. It is pure: no I/O, no clock, no goroutines; the same inputs
// give the same plan.
//
// Peers split by whole layers or by tensor slices across 2^n nodes; this
// package splits the operation graph itself. A task is a convex set of ops
// with its own subgraph, so package exec can run it, and explicit tensor
// interfaces at every cut.
//
// Planning:
//
//  1. Build or load the graph (an *ir.Graph that verifies).
//  2. Fill a Config: Budget (the target VRAM in bytes), a CostModel
//     (Context for the KV cache, Chunk rows of prefill activations,
//     TaskOverhead per task) and MergeBranches (whether a task may hold
//     parts of independent branches). Config.Validate reports bad values.
//  3. Call Partition. It orders the ops so that independent branches are
//     contiguous (a series/parallel decomposition), splits MatMuls that do
//     not fit alone into row slices (Plan.Shards), and runs a dynamic
//     programme over the order: fewest tasks, then fewest bytes per token
//     between tasks, then the most even sizes (sum of squared sizes). A
//     block of independent branches is either inside one task or opened,
//     each branch planned on its own. On a chain the result is the exact
//     optimum among all splits. An op that cannot fit is reported as an
//     *OpTooLargeError.
//  4. Read the Plan: Tasks (ops, costs, Inputs and Outputs ports, Graph),
//     Edges with bytes per token, Stages (tasks that may run in parallel),
//     and LowerBound next to len(Tasks).
//  5. To deploy, bind each task's weights by name; for a Shard, slice the
//     source weight with Shard.Slice. Run the tasks in ID order (or stage
//     by stage), feeding each task its model inputs and the outputs of
//     upstream tasks by name: the result equals running the whole graph.
//  6. Call Assign with the plan, the nodes (VRAM, specialisations) and a
//     seed to place tasks on nodes, adjacent tasks together where they fit.
//
// Cost model: a task needs TaskOverhead + the bytes of the weights it binds
// (a weight two tasks use counts in both) + its states scaled to Context +
// Chunk × (its input rows + the peak of values live while its ops run in
// order + op scratch, e.g. attention scores). Compute units are FLOPs per
// decoded token.
package partition
