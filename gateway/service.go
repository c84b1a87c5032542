package gateway

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/splitup/splitup/wire"
)

// Model is one served model.
type Model struct {
	// ID is the name clients put in the "model" field.
	ID string
	// OwnedBy is reported in GET /v1/models.
	OwnedBy string
	// Created is reported in GET /v1/models, in Unix seconds.
	Created int64
	// Engine runs the model.
	Engine Engine
	// Tokenizer encodes prompts and decodes sampled tokens.
	Tokenizer Tokenizer
	// BOS and EOS are the beginning- and end-of-sequence token ids
	// (llama2.c: 1 and 2). Sampling either ends generation.
	BOS, EOS int
	// ContextLength is the number of positions the model can attend over
	// (llama2.c's seq_len). Must be > 0.
	ContextLength int
}

// Config configures a Service.
type Config struct {
	// Models are the served models; IDs must be unique and non-empty.
	Models []Model
	// Limits bound and default the request fields (wire.DefaultLimits if zero).
	Limits wire.Limits
	// MaxConcurrent bounds the generations that run at once; others wait
	// until a slot frees or their context ends (then 503). 0 means 4.
	MaxConcurrent int
	// MaxRebuilds bounds how many times one generation may reopen a lost
	// session (ErrSessionLost). 0 means 2; negative means never.
	MaxRebuilds int
	// Now returns the current time (response "created"); nil means time.Now.
	Now func() time.Time
	// Random returns random 64-bit values for response ids and for the seed
	// of requests that give none; nil means crypto/rand.
	Random func() uint64
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	if len(c.Models) == 0 {
		return errors.New("gateway: config: no models")
	}
	seen := map[string]bool{}
	for i, m := range c.Models {
		switch {
		case m.ID == "":
			return fmt.Errorf("gateway: config: model %d has no ID", i)
		case seen[m.ID]:
			return fmt.Errorf("gateway: config: model ID %q appears twice", m.ID)
		case m.Engine == nil || m.Tokenizer == nil:
			return fmt.Errorf("gateway: config: model %q needs an Engine and a Tokenizer", m.ID)
		case m.ContextLength <= 0:
			return fmt.Errorf("gateway: config: model %q: ContextLength %d must be > 0", m.ID, m.ContextLength)
		}
		seen[m.ID] = true
	}
	if c.Limits != (wire.Limits{}) {
		if err := c.Limits.Validate(); err != nil {
			return fmt.Errorf("gateway: config: %w", err)
		}
	}
	if c.MaxConcurrent < 0 {
		return fmt.Errorf("gateway: config: MaxConcurrent %d must be >= 0", c.MaxConcurrent)
	}
	return nil
}

// Service runs generations for the HTTP layer. It is safe for concurrent use.
type Service struct {
	cfg    Config
	models map[string]*Model // read-only after NewService
	slots  chan struct{}     // one token per running generation
}

// NewService validates cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = 4
	}
	if cfg.MaxRebuilds == 0 {
		cfg.MaxRebuilds = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = cryptoRandom
	}
	if cfg.Limits == (wire.Limits{}) {
		cfg.Limits = wire.DefaultLimits
	}
	cfg.Models = append([]Model(nil), cfg.Models...)
	sort.Slice(cfg.Models, func(i, j int) bool { return cfg.Models[i].ID < cfg.Models[j].ID })
	s := &Service{cfg: cfg, models: map[string]*Model{}, slots: make(chan struct{}, cfg.MaxConcurrent)}
	for i := range cfg.Models {
		s.models[cfg.Models[i].ID] = &s.cfg.Models[i]
	}
	return s, nil
}

func cryptoRandom() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:]) // never fails on supported platforms
	return binary.LittleEndian.Uint64(b[:])
}

// Models lists the served models, sorted by ID.
func (s *Service) Models() wire.ModelList {
	ms := make([]wire.Model, len(s.cfg.Models))
	for i, m := range s.cfg.Models {
		ms[i] = wire.Model{ID: m.ID, Created: m.Created, OwnedBy: m.OwnedBy}
	}
	return wire.ToModelList(ms)
}

// Model describes the served model id, or returns a 404 *wire.Error.
func (s *Service) Model(id string) (wire.Model, error) {
	m, ok := s.models[id]
	if !ok {
		return wire.Model{}, wire.ModelNotFound(id)
	}
	return wire.Model{ID: m.ID, Object: wire.ObjectModel, Created: m.Created, OwnedBy: m.OwnedBy}, nil
}

func (s *Service) meta(prefix, model string) wire.Meta {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], s.cfg.Random())
	binary.LittleEndian.PutUint32(b[8:], uint32(s.cfg.Random()))
	return wire.Meta{ID: prefix + hex.EncodeToString(b[:]), Created: s.cfg.Now().Unix(), Model: model}
}

// Completion runs a non-streamed completion.
func (s *Service) Completion(ctx context.Context, r wire.CompletionRequest) (wire.CompletionResponse, error) {
	g, err := wire.FromCompletion(r, s.cfg.Limits)
	if err != nil {
		return wire.CompletionResponse{}, err
	}
	res, err := s.Generate(ctx, g, nil)
	if err != nil {
		return wire.CompletionResponse{}, err
	}
	return wire.ToCompletion(s.meta("cmpl-", g.Model), res), nil
}

// CompletionStream runs a streamed completion, passing each event to send.
// An error returned before the first send means nothing was streamed.
func (s *Service) CompletionStream(ctx context.Context, r wire.CompletionRequest, send func(wire.CompletionResponse) error) error {
	g, err := wire.FromCompletion(r, s.cfg.Limits)
	if err != nil {
		return err
	}
	m := s.meta("cmpl-", g.Model)
	res, err := s.Generate(ctx, g, func(text string) error {
		return send(wire.CompletionChunk(m, text, ""))
	})
	if err != nil {
		return err
	}
	if err := send(wire.CompletionChunk(m, "", res.FinishReason)); err != nil {
		return err
	}
	if g.IncludeUsage {
		return send(wire.CompletionUsageChunk(m, res))
	}
	return nil
}

// Chat runs a non-streamed chat completion.
func (s *Service) Chat(ctx context.Context, r wire.ChatCompletionRequest) (wire.ChatCompletionResponse, error) {
	g, err := wire.FromChat(r, s.cfg.Limits)
	if err != nil {
		return wire.ChatCompletionResponse{}, err
	}
	res, err := s.Generate(ctx, g, nil)
	if err != nil {
		return wire.ChatCompletionResponse{}, err
	}
	return wire.ToChatCompletion(s.meta("chatcmpl-", g.Model), res), nil
}

// ChatStream runs a streamed chat completion, passing each event to send:
// first the assistant role, then text deltas, then the finish reason (and
// usage when asked). An error returned before the first send means nothing
// was streamed.
func (s *Service) ChatStream(ctx context.Context, r wire.ChatCompletionRequest, send func(wire.ChatCompletionChunk) error) error {
	g, err := wire.FromChat(r, s.cfg.Limits)
	if err != nil {
		return err
	}
	m := s.meta("chatcmpl-", g.Model)
	started := false
	start := func() error {
		if started {
			return nil
		}
		started = true
		return send(wire.ChatRoleChunk(m))
	}
	res, err := s.Generate(ctx, g, func(text string) error {
		if err := start(); err != nil {
			return err
		}
		return send(wire.ChatChunk(m, text, ""))
	})
	if err != nil {
		return err
	}
	if err := start(); err != nil {
		return err
	}
	if err := send(wire.ChatChunk(m, "", res.FinishReason)); err != nil {
		return err
	}
	if g.IncludeUsage {
		return send(wire.ChatUsageChunk(m, res))
	}
	return nil
}

// statusClientClosed is the status logged when the client went away first
// (nginx's 499); nobody is left to read it.
const statusClientClosed = 499

// apiError maps an error from generation to the *wire.Error the client sees.
func apiError(ctx context.Context, err error) *wire.Error {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return we
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return wire.ServerError(http.StatusGatewayTimeout, wire.CodeTimeout,
			"the request did not finish before its deadline; lower max_tokens or retry later")
	case errors.Is(err, context.Canceled):
		return wire.ServerError(statusClientClosed, "canceled", "the request was canceled")
	case errors.Is(err, ErrUnavailable):
		return wire.ServerError(http.StatusServiceUnavailable, wire.CodeEngineUnavailable,
			"the model is not available right now (%v); retry later", err)
	default:
		return wire.ServerError(http.StatusInternalServerError, wire.CodeEngineFailed, "the engine failed: %v", err)
	}
}
