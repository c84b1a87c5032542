package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/splitup/splitup/sample"
)

// This file defines the test engine and tokenizer used by the gateway's
// tests. They stand in for a real model with fully predictable behaviour.
//
// byteTokenizer: token 0 is unknown, 1 is BOS, 2 is EOS, and token b+3 is
// the byte b. Decode returns the byte (so a multi-byte UTF-8 character spans
// several tokens, as with byte-fallback tokenizers).
//
// testEngine: a session feeds every token into a running hash. The logits
// after n tokens peak (10) at the byte script[n % len(script)], have a second
// peak (9) at a lower-case letter chosen by the hash (so the output depends
// on the whole history, and a session rebuilt from it must match), and put
// 20 on EOS once n reaches eosAt (if set). Greedy decoding therefore writes
// the script from position len(prompt tokens) on.

const testVocab = 259

type byteTokenizer struct{}

func (byteTokenizer) Encode(text string, bos, eos bool) []int {
	var out []int
	if bos {
		out = append(out, 1)
	}
	for i := 0; i < len(text); i++ {
		out = append(out, int(text[i])+3)
	}
	if eos {
		out = append(out, 2)
	}
	return out
}

func (byteTokenizer) Decode(prev, tok int) string {
	if tok < 3 || tok >= testVocab {
		return ""
	}
	return string([]byte{byte(tok - 3)})
}

const testScript = "Once upon a time, a tiny model told a story. The end.\n"

type testEngine struct {
	script string
	eosAt  int // 0: never

	mu       sync.Mutex // guards the fields below
	open     int        // sessions not yet closed
	opened   int        // sessions ever opened
	forwards int        // Forward calls, all sessions
	// fail, if set, is consulted before every Forward; a non-nil error is returned.
	fail func(call, pos int) error
	// block, if set, makes Forward at position blockAt wait for it to close
	// (or for ctx); blocked receives one value each time a Forward starts waiting.
	block   chan struct{}
	blockAt int
	blocked chan struct{}
	// sessionErr, if set, is returned by NewSession.
	sessionErr error
	// greedy makes sessions GreedySessions; argmaxes counts their
	// ForwardArgmax calls.
	greedy   bool
	argmaxes int
}

func newTestEngine() *testEngine { return &testEngine{script: testScript} }

func (e *testEngine) NewSession(ctx context.Context) (Session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sessionErr != nil {
		return nil, e.sessionErr
	}
	e.open++
	e.opened++
	s := &testSession{e: e, logits: make([]float32, testVocab)}
	if e.greedy {
		return greedySession{s}, nil
	}
	return s, nil
}

// greedySession picks the argmax itself, as a pipeline's last node does.
type greedySession struct{ *testSession }

func (s greedySession) ForwardArgmax(ctx context.Context, tokens []int32, pos int) (int, error) {
	s.e.mu.Lock()
	s.e.argmaxes++
	s.e.mu.Unlock()
	logits, err := s.Forward(ctx, tokens, pos)
	if err != nil {
		return 0, err
	}
	return sample.Argmax(logits), nil
}

func (e *testEngine) openSessions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.open
}

type testSession struct {
	e      *testEngine
	n      int    // tokens run so far
	hash   uint64 // over every token run so far
	closed bool
	logits []float32
}

func (s *testSession) Forward(ctx context.Context, tokens []int32, pos int) ([]float32, error) {
	if s.closed {
		return nil, errors.New("test engine: Forward after Close")
	}
	if pos != s.n || len(tokens) == 0 {
		return nil, fmt.Errorf("test engine: Forward(%d tokens, pos %d) but the session holds %d", len(tokens), pos, s.n)
	}
	e := s.e
	e.mu.Lock()
	call := e.forwards
	e.forwards++
	fail, block, blockAt, blocked := e.fail, e.block, e.blockAt, e.blocked
	e.mu.Unlock()
	if fail != nil {
		if err := fail(call, pos); err != nil {
			return nil, err
		}
	}
	if block != nil && pos <= blockAt && blockAt < pos+len(tokens) {
		if blocked != nil {
			blocked <- struct{}{}
		}
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for _, t := range tokens {
		s.hash = s.hash*1000003 + uint64(t) + 1
	}
	s.n += len(tokens)
	clear(s.logits)
	s.logits[int(e.script[s.n%len(e.script)])+3] = 10
	s.logits[int('a'+s.hash%26)+3] += 9
	if e.eosAt > 0 && s.n >= e.eosAt {
		s.logits[2] = 20
	}
	return s.logits, nil
}

func (s *testSession) Close() error {
	if s.closed {
		return errors.New("test engine: Close twice")
	}
	s.closed = true
	s.e.mu.Lock()
	s.e.open--
	s.e.mu.Unlock()
	return nil
}

// sizedEngine is a testEngine that records the positions each session was
// opened for.
type sizedEngine struct {
	*testEngine
	sizes []int
}

func (e *sizedEngine) NewSessionFor(ctx context.Context, positions int) (Session, error) {
	e.mu.Lock()
	e.sizes = append(e.sizes, positions)
	e.mu.Unlock()
	return e.NewSession(ctx)
}
