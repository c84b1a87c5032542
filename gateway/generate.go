package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/splitup/splitup/sample"
	"github.com/splitup/splitup/wire"
)

// Generate runs g and returns its result. If emit is non-nil, text is passed
// to it piece by piece as soon as it is final (never empty pieces); the
// pieces concatenate to the result's Text. Errors are *wire.Error values.
func (s *Service) Generate(ctx context.Context, g wire.GenerateRequest, emit func(string) error) (wire.GenerateResult, error) {
	res, err := s.generate(ctx, g, emit)
	if err != nil {
		return res, apiError(ctx, err)
	}
	return res, nil
}

// maxPromptBytesPerToken bounds the bytes of a prompt per token of the
// model's context: no tokenizer's tokens are that long on average.
const maxPromptBytesPerToken = 32

func (s *Service) generate(ctx context.Context, g wire.GenerateRequest, emit func(string) error) (wire.GenerateResult, error) {
	m, ok := s.models[g.Model]
	if !ok {
		return wire.GenerateResult{}, wire.ModelNotFound(g.Model)
	}
	if limit := m.ContextLength * maxPromptBytesPerToken; len(g.Prompt) > limit {
		// Checked before encoding: a prompt this long cannot fit, and
		// there is no use in tokenising megabytes to say so.
		return wire.GenerateResult{}, wire.BadRequest("prompt", wire.CodeInvalidValue,
			"the prompt is %d bytes; model %s holds %d tokens, and no prompt over %d bytes fits in them",
			len(g.Prompt), m.ID, m.ContextLength, limit)
	}
	prompt := m.Tokenizer.Encode(g.Prompt, true, false)
	if len(prompt) == 0 || len(prompt) >= m.ContextLength {
		return wire.GenerateResult{}, wire.BadRequest("prompt", wire.CodeInvalidValue,
			"the prompt is %d tokens; model %s holds %d, so at most %d fit with room for one generated token",
			len(prompt), m.ID, m.ContextLength, m.ContextLength-1)
	}
	seed := s.cfg.Random()
	if g.Seed != nil {
		seed = *g.Seed
	}
	scfg := sample.Config{Temperature: g.Temperature, TopP: g.TopP, Seed: seed}
	if err := scfg.Validate(); err != nil {
		return wire.GenerateResult{}, wire.BadRequest("temperature", wire.CodeInvalidValue, "%v", err)
	}
	if err := s.acquire(ctx); err != nil {
		return wire.GenerateResult{}, err
	}
	defer s.release()

	run := &generation{svc: s, m: m, req: g, emit: emit, sampler: sample.New(scfg), greedy: scfg.Temperature == 0,
		filter: newTextFilter(g.Stop), history: toInt32(prompt), positions: min(m.ContextLength, len(prompt)+g.MaxTokens)}
	defer run.close()
	res, err := run.loop(ctx)
	res.PromptTokens = len(prompt)
	return res, err
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wire.ServerError(http.StatusServiceUnavailable, wire.CodeEngineUnavailable,
				"all %d generation slots stayed busy until the deadline; retry later", cap(s.slots))
		}
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.slots }

// generation is the state of one request: owned by the goroutine that runs it.
type generation struct {
	svc     *Service
	m       *Model
	req     wire.GenerateRequest
	emit    func(string) error
	sampler *sample.Sampler
	greedy  bool // temperature 0: the next token is the argmax of the logits
	filter  *textFilter
	sess    Session
	history []int32 // every token the session has been (or will be) fed, prompt first
	// positions bounds the tokens a session of this request runs: the
	// prompt and max_tokens (the last token generated is never run).
	positions int
	done      int // how many of history the current session has run
	text      []byte
	rebuild   int
}

// loop prefills the prompt, then samples until a stop condition.
func (r *generation) loop(ctx context.Context) (wire.GenerateResult, error) {
	prompt := len(r.history)
	for {
		next, err := r.next(ctx)
		if err != nil {
			return wire.GenerateResult{CompletionTokens: len(r.history) - prompt}, err
		}
		if err := ctx.Err(); err != nil {
			return wire.GenerateResult{}, err
		}
		prev := int(r.history[len(r.history)-1])
		r.history = append(r.history, int32(next))
		n := len(r.history) - prompt
		res := wire.GenerateResult{CompletionTokens: n}
		if next == r.m.EOS || next == r.m.BOS {
			return r.finish(res, wire.FinishStop)
		}
		stopped, err := r.out(r.filter.push(r.m.Tokenizer.Decode(prev, next)))
		if err != nil {
			return res, err
		}
		if stopped {
			return r.finish(res, wire.FinishStop)
		}
		if n >= r.req.MaxTokens || len(r.history) >= r.m.ContextLength {
			return r.finish(res, wire.FinishLength)
		}
	}
}

// next runs the tokens of history the session has not seen yet and picks
// the next token: at temperature 0 by the session itself when it can
// (GreedySession), otherwise by the sampler from the logits.
func (r *generation) next(ctx context.Context) (int, error) {
	var next int
	err := r.forward(ctx, func(sess Session, tokens []int32, pos int) error {
		if g, ok := sess.(GreedySession); ok && r.greedy {
			id, err := g.ForwardArgmax(ctx, tokens, pos)
			next = id
			return err
		}
		logits, err := sess.Forward(ctx, tokens, pos)
		if err == nil && len(logits) == 0 {
			err = errors.New("engine returned no logits")
		}
		if err == nil {
			next = r.sampler.Next(logits)
		}
		return err
	})
	return next, err
}

// out records and emits filtered text.
func (r *generation) out(text string, stopped bool) (bool, error) {
	if text == "" {
		return stopped, nil
	}
	r.text = append(r.text, text...)
	if r.emit != nil {
		if err := r.emit(text); err != nil {
			return stopped, fmt.Errorf("send: %w", err)
		}
	}
	return stopped, nil
}

func (r *generation) finish(res wire.GenerateResult, reason string) (wire.GenerateResult, error) {
	if _, err := r.out(r.filter.flush(), false); err != nil { // empty after a stop string
		return res, err
	}
	res.Text, res.FinishReason = string(r.text), reason
	return res, nil
}

// forward runs step on the tokens of history the session has not seen
// yet. If the session is lost it opens a new one and replays the whole
// history in one prefill.
func (r *generation) forward(ctx context.Context, step func(sess Session, tokens []int32, pos int) error) error {
	for {
		if r.sess == nil {
			sess, err := r.open(ctx)
			if err != nil {
				return fmt.Errorf("open session: %w", err)
			}
			r.sess, r.done = sess, 0
		}
		err := step(r.sess, r.history[r.done:], r.done)
		if err == nil {
			r.done = len(r.history)
			return nil
		}
		if !errors.Is(err, ErrSessionLost) || r.rebuild >= r.svc.cfg.MaxRebuilds {
			return fmt.Errorf("forward at position %d: %w", r.done, err)
		}
		r.rebuild++
		r.close()
	}
}

// open opens a session sized to the request where the engine can.
func (r *generation) open(ctx context.Context) (Session, error) {
	if se, ok := r.m.Engine.(SizedEngine); ok {
		return se.NewSessionFor(ctx, r.positions)
	}
	return r.m.Engine.NewSession(ctx)
}

func (r *generation) close() {
	if r.sess != nil {
		_ = r.sess.Close() // the state is discarded either way
		r.sess = nil
	}
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
