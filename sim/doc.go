// Package sim simulates the economics of Proof of Sampling (PoSP) with agents:
// a marketplace of honest nodes, rational cheaters and colluding validators,
// and measures whether cheating on a task pays.
//
// All money is in units of C, the compute cost a cheater saves by not doing a
// task (C = 1). R is what the asserter of a task is paid and forfeits when it is
// caught; S is the stake it is slashed by. A task is checked with probability p;
// a fraction r of the validators collude with cheaters and approve their wrong
// outputs. Cheating on one task then gains, against doing it honestly,
//
//	E = C − p(1−r)(R+S)
//
// which is zero at the threshold p* = C / ((1−r)(R+S)): cheating pays below it
// and loses above it. The simulation does not use this formula; it reports it
// next to what the agents earned so that the two can be compared.
//
// # The model
//
// One trial is an independent marketplace:
//
//  1. Nodes are shuffled; the first Cheaters of them are rational cheaters, the
//     next round(r·(Nodes−1)) are colluding validators (they do their own tasks
//     honestly), the rest are honest. A cheater asserter thus meets a colluder
//     among the other nodes with probability r.
//  2. Executions arrive one after another; each has TasksPerExecution tasks and
//     each task is assigned to a node drawn uniformly at random.
//  3. An honest asserter computes the task (cost C) and is paid R. A cheater
//     decides first whether to cheat (below); a cheated task costs nothing.
//  4. With probability p the task is checked by a validator drawn uniformly from
//     the other nodes. An honest validator that checks a wrong output catches
//     the asserter (the tie-breaking third validator is honest): the asserter is
//     not paid and is slashed S. A colluding validator approves it; an unchecked
//     wrong output is paid like a correct one.
//  5. Every node keeps a ledger of what asserting earned it (payments − compute
//     − slashes). Validation income is left out of both ledgers alike.
//
// The rational cheater knows R, S and its own cost C, but not the rate q at
// which cheated tasks are caught — the collusion that lowers it below p is
// private — so it learns q from the outcomes of its own cheats (caught or
// paid), starting from Jeffreys' prior Beta(½, ½). Before each task it draws
// an estimate q̃ from its posterior and cheats when its estimated gain
// C − q̃(R+S) is positive (posterior, or Thompson, sampling). It therefore
// keeps cheating where that pays and tries it ever more rarely where it does
// not, so the gain of cheating is observed on both sides of the threshold.
//
// # What is reported
//
// The gain of a cheated task is the cheater's profit on it minus an honest
// node's profit per task (taken from the honest ledgers): +C when the cheat
// goes through, C−R−S when it is caught. [Run] reports its mean over all
// cheated tasks of all trials, with a 95 % confidence interval from the
// per-trial totals (a ratio estimator with a Student t interval; trials are
// independent, the tasks inside one are not, because the cheaters' decisions
// depend on their past). It also reports the realised profit per task of the
// cheaters (cheated or not) against an honest node, with its interval, and the
// share of their tasks they cheated on.
//
// # Calling protocol
//
//  1. Start from [DefaultConfig], set Params (and Seed, Trials, …).
//  2. Call [Run] for one parameter set, or [RunSweep] with a [Param] and a grid
//     (see [DefaultRange] and [Grid]) to vary one parameter.
//  3. Draw a sweep with [WriteSVG].
//
// Results are a deterministic function of the Config: trial i draws from a
// PCG generator seeded with (Seed, i). The package does no I/O other than
// writing the plot to the io.Writer it is given.
package sim
