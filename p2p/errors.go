package p2p

import (
	"errors"
	"fmt"
)

// Sentinel errors, returned wrapped; callers branch on them with errors.Is.
var (
	// ErrStreamBroken: the stream cannot carry more messages — the remote
	// reset it or died, the connection dropped, a read or write timed out, or
	// the remote broke the protocol. Treat the peer as failed for this
	// session and report it.
	ErrStreamBroken = errors.New("stream broken")
	// ErrMalformed: bytes that are not a valid encoding of the format.
	ErrMalformed = errors.New("malformed message")
	// ErrTooLarge: a length above a limit of the format or the configuration.
	ErrTooLarge = errors.New("too large")
	// ErrClosed: the host or stream was closed by this side.
	ErrClosed = errors.New("closed")
	// ErrNotFound: the requested blob is not in the store or on the peer.
	ErrNotFound = errors.New("blob not found")
	// ErrHashMismatch: fetched bytes do not hash to the requested hash.
	ErrHashMismatch = errors.New("blob hash mismatch")
	// ErrBusy: the peer refused a request because it serves too many.
	ErrBusy = errors.New("peer busy")
)

// StreamError reports a failure on a stream with a peer. It matches
// ErrStreamBroken with errors.Is, as well as its underlying cause (such as
// os.ErrDeadlineExceeded, ErrMalformed or ErrTooLarge).
type StreamError struct {
	// Peer is the remote end.
	Peer PeerID
	// Op is what was being done: "open /splitup/pipeline/1", "send", "recv", ...
	Op string
	// Err is the cause.
	Err error
}

// Error formats the failure with its peer and operation.
func (e *StreamError) Error() string {
	return fmt.Sprintf("p2p: %s with peer %s: %v: %v", e.Op, e.Peer, ErrStreamBroken, e.Err)
}

// Unwrap returns ErrStreamBroken and the cause.
func (e *StreamError) Unwrap() []error { return []error{ErrStreamBroken, e.Err} }
