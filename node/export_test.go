package node

import "github.com/splitup/splitup/ir"

// JoinRows exposes joinRows to the external tests.
var JoinRows = joinRows

// IRFrame aliases ir.Frame for the external tests.
type IRFrame = ir.Frame

// SetRecomputeChunk sets the rows a recomputation runs per turn and
// returns a function that restores the old value.
func SetRecomputeChunk(n int) func() {
	old := recomputeChunk
	recomputeChunk = n
	return func() { recomputeChunk = old }
}

// SessionUntil is sessionUntil, for tests.
var SessionUntil = sessionUntil

// RecordDone is recordDone, for tests.
var RecordDone = recordDone
