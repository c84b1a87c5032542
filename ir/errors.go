package ir

import "errors"

// Sentinel errors returned (wrapped) by Verify, the Builder and the decoders.
// Callers branch on them with errors.Is.
var (
	// ErrCycle: the graph's tensors depend on themselves.
	ErrCycle = errors.New("graph has a cycle")
	// ErrUnknownOp: an op code outside the closed op set.
	ErrUnknownOp = errors.New("unknown op")
	// ErrDType: an invalid dtype or one an op does not accept.
	ErrDType = errors.New("dtype mismatch")
	// ErrShape: shapes that do not fit together.
	ErrShape = errors.New("shape mismatch")
	// ErrTooLarge: a tensor, name or count above the format's limits.
	ErrTooLarge = errors.New("too large")
	// ErrFormat: bytes that are not a valid encoding.
	ErrFormat = errors.New("malformed encoding")
	// ErrGraph: any other structural fault (bad reference, duplicate name, missing output).
	ErrGraph = errors.New("invalid graph")
)
