package node

import "github.com/splitup/splitup/ir"

// JoinRows exposes joinRows to the external tests.
var JoinRows = joinRows

// IRFrame aliases ir.Frame for the external tests.
type IRFrame = ir.Frame
