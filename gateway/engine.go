package gateway

import (
	"context"
	"errors"
)

// Engine is one loaded model, possibly spread over many nodes.
// It must be safe for concurrent use: each request opens its own Session.
type Engine interface {
	// NewSession opens a conversation with empty KV caches.
	NewSession(ctx context.Context) (Session, error)
}

// SizedEngine is an Engine that can open a session for a known number of
// positions. A request's prompt and max_tokens bound how many it runs, and
// a smaller session may cost less: a chain execution escrows its fee and
// times its tasks by the positions it may run.
type SizedEngine interface {
	Engine
	// NewSessionFor is NewSession for a conversation that runs at most
	// positions tokens.
	NewSessionFor(ctx context.Context, positions int) (Session, error)
}

// Session holds the KV cache(s) of one conversation. The gateway uses a
// Session from one goroutine at a time.
type Session interface {
	// Forward runs tokens at positions pos..pos+len(tokens)-1 and returns the
	// logits of the last one (one float per vocabulary entry). The gateway
	// calls it with pos = the number of tokens already run in this session.
	// The returned slice may be reused by the next call.
	Forward(ctx context.Context, tokens []int32, pos int) ([]float32, error)
	// Close releases the session's state. It is called exactly once.
	Close() error
}

// GreedySession is a Session that can pick the greedy token itself. The
// gateway calls ForwardArgmax instead of Forward when it samples at
// temperature 0: a pipeline then moves a token id instead of a row of
// logits as wide as the vocabulary.
type GreedySession interface {
	Session
	// ForwardArgmax is Forward followed by sample.Argmax of the logits:
	// the index of the largest, the first one on ties.
	ForwardArgmax(ctx context.Context, tokens []int32, pos int) (int, error)
}

// Tokenizer converts between text and token ids for one model.
// It must be safe for concurrent use.
type Tokenizer interface {
	// Encode returns the token ids of text, preceded by the
	// beginning-of-sequence token if bos and followed by end-of-sequence if eos.
	Encode(text string, bos, eos bool) []int
	// Decode returns the text of token tok when it follows token prev
	// (a tokenizer may drop the leading space of a word after BOS).
	Decode(prev, tok int) string
}

// Errors an Engine or Session may wrap to steer the gateway.
var (
	// ErrUnavailable means the engine cannot serve now (no nodes, overloaded);
	// the client gets HTTP 503 and may retry.
	ErrUnavailable = errors.New("engine unavailable")
	// ErrSessionLost means the session's state is gone (a node failed); the
	// gateway opens a new session and replays the token history.
	ErrSessionLost = errors.New("engine session lost")
)
